# hypersweep_warnings(target): our code builds with -Wall -Wextra and, by default, -Werror.
function(hypersweep_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(HYPERSWEEP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# hypersweep_test(NAME name SRCS a.cc ... DEPS lib ... [LABELS l ...] [TIMEOUT s] [GRPC])
# One gtest executable per test file (LevelDB's leveldb_test, abseil's absl_cc_test), linked with
# tests/support. GRPC: the test creates gRPC objects in its own process; it holds gRPC for the whole
# run and shuts it down synchronously at the end (tests/support/grpc_lifetime.cc).
function(hypersweep_test)
  cmake_parse_arguments(T "GRPC" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} hypersweep_test_support
    GTest::gtest GTest::gtest_main GTest::gmock)
  if(T_GRPC)
    target_link_libraries(${T_NAME} PRIVATE hypersweep_test_grpc_lifetime)
  endif()
  target_compile_definitions(${T_NAME} PRIVATE
    HYPERSWEEP_SOURCE_DIR="${PROJECT_SOURCE_DIR}" HYPERSWEEP_BINARY_DIR="${PROJECT_BINARY_DIR}")
  hypersweep_warnings(${T_NAME})
  hypersweep_sanitizer_support(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# hypersweep_sanitizer_support(target): in TSan builds, executables get tools/tsan_absl_shim.cc,
# which tells TSan about Debian's uninstrumented absl::Mutex.
function(hypersweep_sanitizer_support target)
  if(HYPERSWEEP_SANITIZE STREQUAL "thread")
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tools/tsan_absl_shim.cc)
    target_link_libraries(${target} PRIVATE ${CMAKE_DL_LIBS} absl::synchronization)
  endif()
endfunction()
