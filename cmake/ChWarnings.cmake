# ch_options: the compile options every target of the project uses.
add_library(ch_options INTERFACE)
target_compile_options(ch_options INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla)
target_compile_definitions(ch_options INTERFACE _POSIX_C_SOURCE=200809L)
target_include_directories(ch_options INTERFACE ${PROJECT_SOURCE_DIR}/include)
if(CH_WERROR)
  target_compile_options(ch_options INTERFACE -Werror)
endif()
if(CH_SANITIZE)
  target_compile_options(ch_options INTERFACE
    -fsanitize=${CH_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(ch_options INTERFACE -fsanitize=${CH_SANITIZE})
endif()
if(CH_FUZZ)
  # coverage for libFuzzer in every library, not only in the fuzz targets
  # (which add -fsanitize=fuzzer when they link)
  target_compile_options(ch_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=all)  # undefined behaviour stops the fuzzer with an artifact
  target_link_options(ch_options INTERFACE -fsanitize=address,undefined)
endif()

# ch_module(NAME SOURCES... DEPS ...): a static library of the engine, built
# position-independent with hidden visibility so it can go into the shared
# libraries, which export only CH_API (ch_-prefixed) symbols.
function(ch_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${M_SOURCES})
  set_target_properties(${name} PROPERTIES
    POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
  target_link_libraries(${name} PUBLIC ch_options ${M_DEPS})
endfunction()
