// jobs::http's JSON endpoints through serve_admin, with a Beast client: every endpoint and
// every error status.
#include "http_fixture.hpp"

#include <jobs/executor.hpp>

using namespace http_test;

BOOST_AUTO_TEST_SUITE(http_api)

BOOST_AUTO_TEST_CASE(list_has_executor_stats_and_selector_filters) {
  server srv;
  srv.reg.add(jobs::executor(jobs::job(srv.ioc, "billing", quick(), jobs::with_label("team", "pay")),
                             jobs::with_retry(3, 1ms)));
  srv.reg.add(jobs::job(srv.ioc, "report", quick(), jobs::with_label("team", "ops")));
  srv.start();

  auto all = srv.get("/jobs");
  BOOST_TEST(all.status == 200u);
  BOOST_TEST(all.fields[bhttp::field::content_type] == "application/json");
  BOOST_TEST(all.json().as_array().size() == 2u);

  auto pay = srv.get("/jobs?selector=team%3Dpay");
  BOOST_TEST(pay.status == 200u);
  const auto pay_json = pay.json();
  const auto& arr = pay_json.as_array();
  BOOST_REQUIRE_EQUAL(arr.size(), 1u);
  BOOST_TEST(arr[0].at("id").as_string() == "billing");
  BOOST_TEST(arr[0].at("state").as_string() == "created");
  BOOST_TEST(arr[0].at("executor").at("starts").to_number<int>() == 0);

  auto in = srv.get("/jobs?selector=team+in+(ops,x)");  // '+' is a space in a query
  BOOST_TEST(in.json().as_array().size() == 1u);
  BOOST_TEST(in.json().as_array()[0].at("id").as_string() == "report");
}

BOOST_AUTO_TEST_CASE(bad_selector_is_400_with_the_parsers_message) {
  server srv;
  srv.start();
  for (const char* t :
       {"/jobs?selector=a%20in%20", "/jobs/events?selector=!!", "/jobs/cancel?selector=x%3D%3D%3D"}) {
    const bool post = std::string_view(t).starts_with("/jobs/cancel");
    auto r = post ? srv.post(t) : srv.get(t);
    BOOST_TEST_CONTEXT(t) {
      BOOST_TEST(r.status == 400u);
      BOOST_TEST(r.code() == "bad_selector");
      BOOST_TEST(r.message().starts_with("selector: at position"));
      BOOST_TEST(r.json().at("error").at("status").to_number<int>() == 400);
    }
  }
}

BOOST_AUTO_TEST_CASE(get_one_and_unknown_id_is_404) {
  server srv;
  srv.reg.add(jobs::job(srv.ioc, "a/b c", quick()));
  srv.start();
  auto one = srv.get("/jobs/a%2Fb%20c");
  BOOST_TEST(one.status == 200u);
  BOOST_TEST(one.json().at("id").as_string() == "a/b c");
  BOOST_TEST(!one.json().as_object().contains("executor"));

  auto none = srv.get("/jobs/nope");
  BOOST_TEST(none.status == 404u);
  BOOST_TEST(none.code() == "not_found");
  BOOST_TEST(none.message() == "no job with id \"nope\"");
  BOOST_TEST(srv.post("/jobs/nope/start").status == 404u);
  BOOST_TEST(srv.post("/jobs/nope/cancel").status == 404u);
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_methods) {
  server srv;
  srv.start();
  auto r = srv.get("/other");
  BOOST_TEST(r.status == 404u);
  BOOST_TEST(r.code() == "not_found");
  BOOST_TEST(srv.get("/jobsx").status == 404u);
  BOOST_TEST(srv.get("/jobs/a/b/c").status == 404u);
  auto m = srv.request(bhttp::verb::delete_, "/jobs/x");
  BOOST_TEST(m.status == 405u);
  BOOST_TEST(m.code() == "method_not_allowed");
  BOOST_TEST(m.fields[bhttp::field::allow] == "GET");
  auto s = srv.get("/jobs/x/start");
  BOOST_TEST(s.status == 405u);
  BOOST_TEST(s.fields[bhttp::field::allow] == "POST");
  BOOST_TEST(srv.post("/jobs/metrics").status == 405u);
}

BOOST_AUTO_TEST_CASE(start_is_202_while_running_then_cancel_ends_it) {
  server srv;
  jobs::executor ex(jobs::job(srv.ioc, "long", until_canceled()));
  srv.reg.add(ex);
  srv.start();
  auto r = srv.post("/jobs/long/start");
  BOOST_TEST(r.status == 202u);
  BOOST_TEST(r.json().at("admitted").as_bool());
  BOOST_TEST(!r.json().at("done").as_bool());

  auto again = srv.post("/jobs/long/start");
  BOOST_TEST(again.status == 409u);
  BOOST_TEST(again.code() == "refused");
  BOOST_TEST(again.json().at("error").at("reason").as_string() == "still_pending");

  auto c = srv.post("/jobs/long/cancel");
  BOOST_TEST(c.status == 200u);
  BOOST_TEST(c.json().at("canceled").as_bool());
  BOOST_TEST(eventually([&] { return srv.get("/jobs/long").json().at("state").as_string() == "canceled"; }));
  BOOST_TEST(srv.metric("jobs_start_refusals_total{job=\"long\",reason=\"still_pending\"}") == 1);
}

BOOST_AUTO_TEST_CASE(refusals_once_and_cooldown_and_shutting_down_are_409) {
  server srv;
  jobs::executor once(jobs::job(srv.ioc, "once", quick()), jobs::once());
  jobs::executor cool(jobs::job(srv.ioc, "cool", quick()), jobs::with_cooldown(std::chrono::hours(1)));
  srv.reg.add(once);
  srv.reg.add(cool);
  srv.start();
  // The first starts end (quickly); wait for them through the API itself.
  for (const char* id : {"once", "cool"}) {
    const auto first = srv.post(std::string("/jobs/") + id + "/start").status;
    BOOST_TEST((first == 200u || first == 202u));
    BOOST_TEST(eventually([&] {
      return !srv.get(std::string("/jobs/") + id).json().at("executor").at("in_progress").as_bool();
    }));
  }
  auto o = srv.post("/jobs/once/start");
  BOOST_TEST(o.status == 409u);
  BOOST_TEST(o.json().at("error").at("reason").as_string() == "once");
  auto c = srv.post("/jobs/cool/start");
  BOOST_TEST(c.status == 409u);
  BOOST_TEST(c.json().at("error").at("reason").as_string() == "cooldown");
  BOOST_TEST(c.message().starts_with("job is still in cooldown"));

  // A drained registry refuses every start, plain jobs' runs too.
  srv.reg.add(jobs::job(srv.ioc, "plain", quick()));
  std::promise<void> drained;
  srv.reg.async_drain(0s, [&](boost::system::error_code, jobs::drain_report) { drained.set_value(); });
  drained.get_future().wait();
  for (const char* id : {"/jobs/cool/start", "/jobs/plain/start"}) {
    auto d = srv.post(id);
    BOOST_TEST(d.status == 409u);
    BOOST_TEST(d.json().at("error").at("reason").as_string() == "shutting_down");
  }
  BOOST_TEST(srv.metric("jobs_start_refusals_total{job=\"plain\",reason=\"shutting_down\"}") == 1);
  srv.reg.reopen();
}

BOOST_AUTO_TEST_CASE(plain_job_start_and_still_pending) {
  server srv;
  srv.reg.add(jobs::job(srv.ioc, "plain", until_canceled()));
  srv.start();
  BOOST_TEST(srv.post("/jobs/plain/start").status == 202u);
  auto r = srv.post("/jobs/plain/start");
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.json().at("error").at("reason").as_string() == "still_pending");
  BOOST_TEST(srv.post("/jobs/plain/cancel").json().at("canceled").as_bool());
}

BOOST_AUTO_TEST_CASE(params_go_through_the_typed_decoder) {
  struct params {
    std::string symbol;
    int n;
  };
  server srv;
  std::promise<std::string> seen;
  srv.reg.add(jobs::executor(jobs::job(srv.ioc, "typed", [&](jobs::context& ctx) -> asio::awaitable<void> {
    const auto& p = ctx.params<params>();
    seen.set_value(p.symbol + ":" + std::to_string(p.n));
    co_return;
  })));
  srv.reg.add(jobs::job(srv.ioc, "raw", quick()));
  srv.admin->register_params<params>("typed", [](const json::value& v) {
    const auto& o = v.as_object();  // throws for a non-object: 400
    return params{std::string(o.at("symbol").as_string()), static_cast<int>(o.at("n").as_int64())};
  });
  srv.start();

  auto ok = srv.post("/jobs/typed/start", R"({"symbol":"ACME","n":3})");
  BOOST_TEST((ok.status == 200u || ok.status == 202u));
  BOOST_TEST(seen.get_future().get() == "ACME:3");

  auto bad_json = srv.post("/jobs/typed/start", R"({"symbol":)");
  BOOST_TEST(bad_json.status == 400u);
  BOOST_TEST(bad_json.code() == "bad_json");
  auto bad_params = srv.post("/jobs/typed/start", R"({"symbol":1})");
  BOOST_TEST(bad_params.status == 400u);
  BOOST_TEST(bad_params.code() == "bad_params");
  BOOST_TEST(bad_params.message().find("\"typed\"") != std::string::npos);
  // Without a decoder, any JSON is accepted (the params are the json::value).
  auto raw = srv.post("/jobs/raw/start", "[1,2]");
  BOOST_TEST((raw.status == 200u || raw.status == 202u));
}

BOOST_AUTO_TEST_CASE(cancel_by_selector) {
  server srv;
  srv.reg.add(jobs::job(srv.ioc, "a", until_canceled(), jobs::with_label("tier", "batch")));
  srv.reg.add(jobs::job(srv.ioc, "b", until_canceled(), jobs::with_label("tier", "batch")));
  srv.reg.add(jobs::job(srv.ioc, "c", until_canceled(), jobs::with_label("tier", "web")));
  srv.start();
  for (const char* id : {"a", "b", "c"})
    BOOST_TEST(srv.post(std::string("/jobs/") + id + "/start").status == 202u);
  auto r = srv.post("/jobs/cancel?selector=tier%3Dbatch");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json().at("canceled").to_number<int>() == 2);
  BOOST_TEST(eventually([&] {
    auto v = srv.get("/jobs?selector=tier%3Dbatch").json().as_array();
    return v[0].at("state").as_string() == "canceled" && v[1].at("state").as_string() == "canceled";
  }));
  BOOST_TEST(srv.get("/jobs/c").json().at("state").as_string() == "running");
}

BOOST_AUTO_TEST_CASE(page_is_self_contained_html) {
  server srv;
  srv.start();
  auto r = srv.get("/jobs/");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.fields[bhttp::field::content_type] == "text/html; charset=utf-8");
  BOOST_TEST(r.body.find("EventSource") != std::string::npos);
  BOOST_TEST(r.body.find("id=\"selector\"") != std::string::npos);
  BOOST_TEST(r.body.find("src=\"http") == std::string::npos);  // nothing from elsewhere
  BOOST_TEST(r.body.find("href=\"http") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(options_are_validated) {
  asio::io_context ioc;
  jobs::registry reg(ioc);
  auto with_prefix = [](std::string p) {
    jobs::http::options o;
    o.prefix = std::move(p);
    return o;
  };
  BOOST_CHECK_THROW(jobs::http::admin(reg, with_prefix("jobs")), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::http::admin(reg, with_prefix("/jobs/")), std::invalid_argument);
  jobs::http::options zero;
  zero.max_body = 0;
  BOOST_CHECK_THROW(jobs::http::admin(reg, zero), std::invalid_argument);
  jobs::http::admin a(reg, with_prefix("/admin/jobs"));
  BOOST_TEST(a.matches("/admin/jobs"));
  BOOST_TEST(a.matches("/admin/jobs?selector=a"));
  BOOST_TEST(a.matches("/admin/jobs/x"));
  BOOST_TEST(!a.matches("/admin/jobsx"));
  BOOST_TEST(!a.matches("/jobs"));
}

BOOST_AUTO_TEST_CASE(handle_without_a_server_and_another_prefix) {
  asio::io_context ioc;
  jobs::registry reg(ioc);
  reg.add(jobs::job(ioc, "x", quick()));
  jobs::http::options o;
  o.prefix = "/admin/jobs";
  std::optional<jobs::http::admin> a(std::in_place, reg, o);
  jobs::http::request req{bhttp::verb::get, "/admin/jobs/x", 11};
  auto f = asio::co_spawn(ioc, a->handle(req), asio::use_future);
  jobs::http::request ev{bhttp::verb::get, "/admin/jobs/events", 11};
  auto g = asio::co_spawn(ioc, a->handle(ev), asio::use_future);
  while (f.wait_for(0s) != std::future_status::ready || g.wait_for(0s) != std::future_status::ready)
    ioc.run_one_for(1s);
  a.reset();  // its watches are cancelled: the context runs out of work
  ioc.restart();
  ioc.run();
  auto res = f.get();
  BOOST_TEST(res.result_int() == 200u);
  BOOST_TEST(json::parse(res.body()).at("id").as_string() == "x");
  BOOST_TEST(g.get().result_int() == 400u);  // a stream needs serve()
}

BOOST_AUTO_TEST_SUITE_END()
