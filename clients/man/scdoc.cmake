# cmake -DSCDOC=... -DSRC=x.scd -DOUT=x.1 -DVERSION=... [-DCHD=chd -DAWK=awk
#       -DKEYS_AWK=config_keys.awk] -P scdoc.cmake
# One man page from its scdoc source: @VERSION@ becomes the project's
# version and, with CHD, the line @CONFIG_KEYS@ becomes every key of
# `chd --config-doc` (config_keys.awk), so chd.conf(5) cannot drift from the
# program. The filled-in source is kept beside OUT (OUT.scd) for reading.
cmake_minimum_required(VERSION 3.16)
foreach(v SCDOC SRC OUT VERSION)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "scdoc.cmake: -D${v}= is missing")
  endif()
endforeach()
file(READ "${SRC}" text)
string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
if(DEFINED CHD)
  execute_process(COMMAND "${CHD}" --config-doc COMMAND "${AWK}" -f "${KEYS_AWK}"
    OUTPUT_VARIABLE keys RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "scdoc.cmake: ${CHD} --config-doc | ${AWK}: ${rc} ${err}")
  endif()
  string(FIND "${text}" "@CONFIG_KEYS@" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "scdoc.cmake: ${SRC} has no @CONFIG_KEYS@ line")
  endif()
  string(REPLACE "@CONFIG_KEYS@\n" "${keys}" text "${text}")
endif()
file(WRITE "${OUT}.scd" "${text}")
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${OUT}.scd" OUTPUT_FILE "${OUT}.tmp"
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "scdoc.cmake: scdoc ${SRC}: ${err}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
