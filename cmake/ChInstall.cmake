# What `cmake --install` puts under the prefix: the programs (chd, chctl,
# chsim, chvenue; each finds the libraries in ../lib), the shared libraries
# libchclient and libchbook (SONAME-versioned) with their public headers, a
# pkg-config file for each, a CMake package (find_package(clearinghouse):
# targets clearinghouse::chclient and clearinghouse::chbook), and chsim's
# data (clients/CMakeLists.txt). tests/test_install.sh builds a client
# against the installed files only.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_ch_progs chd chctl chsim chvenue)
set_target_properties(${_ch_progs} PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS ${_ch_progs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(TARGETS chclient chbook EXPORT clearinghouseTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# the public headers: the client's and the book's, and what they include
install(FILES
  ${PROJECT_SOURCE_DIR}/include/ch/api.h ${PROJECT_SOURCE_DIR}/include/ch/err.h
  ${PROJECT_SOURCE_DIR}/include/ch/client.h ${PROJECT_SOURCE_DIR}/include/ch/book.h
  ${PROJECT_SOURCE_DIR}/include/ch/limits.h ${PROJECT_SOURCE_DIR}/include/ch/types.h
  ${PROJECT_BINARY_DIR}/include/ch/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ch)

install(EXPORT clearinghouseTargets NAMESPACE clearinghouse::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clearinghouse)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/clearinghouseConfig.cmake.in
  ${PROJECT_BINARY_DIR}/clearinghouseConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clearinghouse)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/clearinghouseConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/clearinghouseConfig.cmake
  ${PROJECT_BINARY_DIR}/clearinghouseConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clearinghouse)

# relocatable: the prefix is found from where the .pc file is (pcfiledir)
file(RELATIVE_PATH CH_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
foreach(_pc libchclient libchbook)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${_pc}.pc.in ${PROJECT_BINARY_DIR}/${_pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${_pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
