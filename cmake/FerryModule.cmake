# ferry_module(NAME DEPS ferry_x ... [LIBS ...] [TEST_LIBS ...] [POSTGRES_TESTS])
#
# Declares the static library ferry_NAME from every *.cc under
# src/ferry/NAME (sub-folders included) except *_test.cc and testing/; when
# tests are enabled, the test-helper library ferry_NAME_testing from the .cc
# files under testing/ (other modules' tests may link it through TEST_LIBS),
# and the unit-test binary ferry_NAME_test from the *_test.cc files.
# DEPS are other Ferry modules (the layering rule), LIBS are third-party.
# POSTGRES_TESTS: the unit tests need the throwaway PostgreSQL server that the
# store's ctest fixture starts (see ferry_enable_test_postgres).
function(ferry_module name)
  cmake_parse_arguments(M "POSTGRES_TESTS" "" "DEPS;LIBS;TEST_LIBS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB_RECURSE all_sources CONFIGURE_DEPENDS ${dir}/*.cc)
  set(lib_sources ${all_sources})
  # *_test.cc and everything under testing/ belong to the test binary.
  list(FILTER lib_sources EXCLUDE REGEX "(_test\\.cc|/testing/.*)$")
  set(testing_sources ${all_sources})
  list(FILTER testing_sources INCLUDE REGEX "/testing/.*$")
  set(test_sources ${all_sources})
  list(FILTER test_sources INCLUDE REGEX "_test\\.cc$")

  if(lib_sources)
    add_library(ferry_${name} STATIC ${lib_sources})
    target_include_directories(ferry_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(ferry_${name} PUBLIC ${M_DEPS} ${M_LIBS})
  else()  # headers only
    add_library(ferry_${name} INTERFACE)
    target_include_directories(ferry_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(ferry_${name} INTERFACE ${M_DEPS} ${M_LIBS})
  endif()

  set_property(GLOBAL APPEND PROPERTY FERRY_MODULES ${name})
  set_property(GLOBAL PROPERTY FERRY_MODULE_DEPS_${name} ${M_DEPS})

  if(FERRY_BUILD_TESTS AND testing_sources)
    add_library(ferry_${name}_testing STATIC ${testing_sources})
    target_link_libraries(ferry_${name}_testing PUBLIC ferry_${name} ${M_TEST_LIBS} GTest::gtest GTest::gmock)
    list(APPEND M_TEST_LIBS ferry_${name}_testing)
  endif()
  if(FERRY_BUILD_TESTS AND test_sources)
    add_executable(ferry_${name}_test ${test_sources})
    target_link_libraries(ferry_${name}_test PRIVATE ferry_${name} ${M_TEST_LIBS}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    if(M_POSTGRES_TESTS)  # read by gtest_discover_tests, so set first
      set_target_properties(ferry_${name}_test PROPERTIES
        CROSSCOMPILING_EMULATOR ${CMAKE_BINARY_DIR}/with_test_postgres)
    endif()
    gtest_discover_tests(ferry_${name}_test
      TEST_PREFIX "${name}."
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      PROPERTIES LABELS unit
      DISCOVERY_TIMEOUT 60)
    if(M_POSTGRES_TESTS)
      ferry_require_test_postgres(ferry_${name}_test)
    endif()
  endif()
endfunction()

# Writes build/layering.cmake with each module's allowed dependencies and adds
# a test that fails when a module includes a header of a module it does not
# depend on (directly or transitively).
function(ferry_write_layering_check)
  get_property(modules GLOBAL PROPERTY FERRY_MODULES)
  set(content "set(FERRY_MODULES ${modules})\n")
  foreach(m ${modules})
    get_property(deps GLOBAL PROPERTY FERRY_MODULE_DEPS_${m})
    list(TRANSFORM deps REPLACE "^ferry_" "")
    string(APPEND content "set(FERRY_DEPS_${m} ${deps})\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/layering.cmake "${content}")
  if(FERRY_BUILD_TESTS)
    add_test(NAME layering
      COMMAND ${CMAKE_COMMAND} -DLAYERING=${PROJECT_BINARY_DIR}/layering.cmake
              -DSRC=${PROJECT_SOURCE_DIR}/src/ferry
              -P ${PROJECT_SOURCE_DIR}/cmake/CheckLayering.cmake)
    set_tests_properties(layering PROPERTIES LABELS unit)
  endif()
endfunction()

# Tests that use store/testing's TestDatabase run on SQLite and on a
# throwaway PostgreSQL that the ctest fixture `postgres` starts once per run
# (scripts/pg-tmp, defined by ferry_enable_test_postgres in the store
# module). A launcher passes the server's URL to the test binary as
# FERRY_TEST_POSTGRES_URL (it is known only once the fixture has run); it is
# the target's CROSSCOMPILING_EMULATOR, which gtest_discover_tests prefixes
# to discovery and to every test command. Every discovered test then
# requires the fixture, set after discovery the way GoogleTest.cmake
# documents for <target>_TESTS.
set(FERRY_TEST_PG_DIR ${CMAKE_BINARY_DIR}/pg)

function(ferry_enable_test_postgres)
  add_test(NAME postgres_start COMMAND ${PROJECT_SOURCE_DIR}/scripts/pg-tmp start ${FERRY_TEST_PG_DIR})
  add_test(NAME postgres_stop COMMAND ${PROJECT_SOURCE_DIR}/scripts/pg-tmp stop ${FERRY_TEST_PG_DIR})
  set_tests_properties(postgres_start PROPERTIES FIXTURES_SETUP postgres LABELS "unit;store" TIMEOUT 120)
  set_tests_properties(postgres_stop PROPERTIES FIXTURES_CLEANUP postgres LABELS "unit;store" TIMEOUT 120)
  set(launcher ${CMAKE_BINARY_DIR}/with_test_postgres)
  file(CONFIGURE OUTPUT ${launcher}
    CONTENT "#!/bin/sh\nexec \"@PROJECT_SOURCE_DIR@/scripts/pg-tmp\" exec \"@FERRY_TEST_PG_DIR@\" \"$@\"\n"
    @ONLY)
  file(CHMOD ${launcher} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                     WORLD_READ WORLD_EXECUTE)
endfunction()

function(ferry_require_test_postgres target)
  set(fixture_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_postgres_fixture.cmake)
  file(WRITE ${fixture_file}
    "if(DEFINED ${target}_TESTS)\n"
    "  set_tests_properties(\${${target}_TESTS} PROPERTIES\n"
    "    FIXTURES_REQUIRED postgres LABELS \"unit;store\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${fixture_file})
endfunction()
