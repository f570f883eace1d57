# Finds the run-time/test dependencies as Debian 12 ships them.
# A missing one stops configuration with the package that provides it.
find_package(Threads REQUIRED)
find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

pkg_check_modules(LMDB QUIET IMPORTED_TARGET lmdb>=0.9.24)
if(NOT LMDB_FOUND)
  message(FATAL_ERROR "LMDB >= 0.9.24 not found: apt-get install liblmdb-dev")
endif()

find_package(nng 1.5 CONFIG QUIET)   # Debian's libnng-dev has no nng.pc
if(NOT nng_FOUND)
  message(FATAL_ERROR "NNG >= 1.5 not found: apt-get install libnng-dev")
endif()

find_package(cJSON 1.7.15 CONFIG QUIET)  # target: cjson (not namespaced)
if(NOT cJSON_FOUND)
  message(FATAL_ERROR "cJSON >= 1.7.15 not found: apt-get install libcjson-dev")
endif()

# the replicated batch log (scale-out on NATS JetStream; chd --cluster)
pkg_check_modules(NATS QUIET IMPORTED_TARGET libnats>=3.4)
if(NOT NATS_FOUND)
  message(FATAL_ERROR "the NATS C client >= 3.4 not found: apt-get install libnats-dev")
endif()

if(CH_BUILD_TESTS)
  pkg_check_modules(CHECK QUIET IMPORTED_TARGET check>=0.15)
  if(NOT CHECK_FOUND)
    message(FATAL_ERROR "Check >= 0.15 not found: apt-get install check")
  endif()
endif()
