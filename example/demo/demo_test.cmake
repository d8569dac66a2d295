# Checks the demo's output (MODE=output) or its handling of bad arguments (MODE=bad_args).
#   cmake -DDEMO=path/to/demo -DMODE=output|bad_args -P demo_test.cmake
if(NOT DEMO OR NOT MODE)
  message(FATAL_ERROR "usage: cmake -DDEMO=<demo> -DMODE=output|bad_args -P demo_test.cmake")
endif()

if(MODE STREQUAL "bad_args")
  # Each bad command line must exit with 2 and say what is wrong on stderr.
  set(cases
    "--seconds -1|--seconds expects"
    "--seconds 0|--seconds expects"
    "--seconds abc|--seconds expects"
    "--seconds nan|--seconds expects"
    "--seconds|--seconds needs a value"
    "--jobs 0|--jobs expects"
    "--jobs 2.5|--jobs expects"
    "--jobs=x|--jobs expects"
    "--frobnicate|unknown argument '--frobnicate'")
  foreach(case IN LISTS cases)
    string(FIND "${case}" "|" bar)
    string(SUBSTRING "${case}" 0 ${bar} args)
    math(EXPR bar "${bar} + 1")
    string(SUBSTRING "${case}" ${bar} -1 expected)
    separate_arguments(parts UNIX_COMMAND "${args}")
    execute_process(COMMAND ${DEMO} ${parts} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                    TIMEOUT 30)
    if(NOT rc EQUAL 2)
      message(FATAL_ERROR "demo ${parts}: exit code ${rc}, expected 2\n${out}${err}")
    endif()
    string(FIND "${err}" "${expected}" at)
    if(at EQUAL -1 OR NOT err MATCHES "usage: demo")
      message(FATAL_ERROR "demo ${parts}: stderr lacks '${expected}' or the usage:\n${err}")
    endif()
    message(STATUS "demo ${parts}: exit 2, ${expected}")
  endforeach()
  return()
endif()

execute_process(COMMAND ${DEMO} --seconds 3 --jobs 3 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "demo exited with ${rc}\n${out}${err}")
endif()
string(ASCII 27 esc)
string(FIND "${out}" "${esc}[" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "plain output (stdout is not a terminal) contains ANSI escapes:\n${out}")
endif()

# Lines that must be there: state changes, events, the summary table and the verdict.
set(expected
  "api-call +running"
  "api-call +failed +[0-9]+% +after [0-9.]+s: HTTP 503 Service Unavailable"
  "api-call +failed +[0-9]+% +run 3, after [0-9.]+s: job timed out"
  "api-call: attempt 3 timed out; retry in"
  "migration: 2nd start: job can only start once"
  "scraper: tick refused: job is still in cooldown, [0-9.]+m?s left"
  "reindex: canceled by the demo at [5-9][0-9]%"
  "reindex +canceled"
  "\n  api-call +succeeded +100% +4 +3 "
  "\n  migration +succeeded +100% +2 +1 "
  "\n  scraper +succeeded +100% +[0-9]+ +0 "
  "\n  reindex +canceled +[5-9][0-9]% +1 +- "
  "\n  upload-3 +succeeded +100% +1 +- "
  "api-call: attempts failed, failed, timed_out, succeeded"
  "demo: all [0-9]+ expectations met")
foreach(re IN LISTS expected)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "the demo's output does not match '${re}':\n${out}")
  endif()
endforeach()

# The JSON stats parse, and say what the scenario did.
string(FIND "${out}" "{\"jobs\": [" begin)
string(FIND "${out}" " }}\n" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "no JSON stats in the output:\n${out}")
endif()
math(EXPR length "${end} + 3 - ${begin}")
string(SUBSTRING "${out}" ${begin} ${length} json)
string(JSON njobs LENGTH "${json}" jobs)
if(NOT njobs EQUAL 7)
  message(FATAL_ERROR "expected the stats of 7 jobs, got ${njobs}:\n${json}")
endif()
string(JSON state GET "${json}" jobs 3 state)
string(JSON id GET "${json}" jobs 3 id)
string(JSON retries GET "${json}" executors api-call retries)
string(JSON third GET "${json}" executors api-call attempts 2 outcome)
string(JSON once_starts GET "${json}" executors migration starts)
if(NOT id STREQUAL "reindex" OR NOT state STREQUAL "canceled" OR NOT retries EQUAL 3 OR NOT third STREQUAL "timed_out"
   OR NOT once_starts EQUAL 1)
  message(FATAL_ERROR "unexpected JSON stats (${id} ${state}, retries ${retries}, ${third}, starts ${once_starts}):\n${json}")
endif()
message(STATUS "demo output OK")
