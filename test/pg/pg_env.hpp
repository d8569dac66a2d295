// What the pg suites need from the run: the throw-away cluster that ctest's fixture started
// (test/pg/pg_cluster.sh), named by JOBS_PG_DIR.
#pragma once

#include <jobs/pg/connection.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>

#include <jobs/error.hpp>

#include <ostream>

namespace jobs {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) { return os << make_error_code(e); }
namespace pg {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) { return os << make_error_code(e); }
}  // namespace pg
}  // namespace jobs

namespace pg_test {

inline std::string cluster_dir() {
  const char* d = std::getenv("JOBS_PG_DIR");
  BOOST_TEST_REQUIRE(d != nullptr,
                     "JOBS_PG_DIR is not set: run through ctest (its fixture starts the cluster)");
  return d;
}
inline std::string conninfo() { return "host=" + cluster_dir() + " user=postgres dbname=postgres"; }

inline std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) {
    r += digits[c >> 4];
    r += digits[c & 15];
  }
  return r;
}

}  // namespace pg_test
