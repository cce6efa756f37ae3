# Compiler flags shared by every monobody target, through the interface target monobody_options.
add_library(monobody_options INTERFACE)
target_compile_options(monobody_options INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(MONOBODY_NATIVE)
  target_compile_options(monobody_options INTERFACE -march=native)
endif()
if(MONOBODY_SANITIZE)
  target_compile_options(monobody_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                    -fno-sanitize-recover=undefined)
  target_link_options(monobody_options INTERFACE -fsanitize=address,undefined)
endif()
target_compile_definitions(monobody_options INTERFACE
  MONOBODY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  MONOBODY_VERSION="${PROJECT_VERSION}")

# monobody_add_test(NAME SOURCES... [LIBS ...]): one GoogleTest executable, registered with CTest.
function(monobody_add_test name)
  if(NOT MONOBODY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} monobody_test_support GTest::gtest_main monobody_options)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES ENVIRONMENT "MONOBODY_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
