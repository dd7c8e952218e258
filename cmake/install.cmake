# `cmake --install` puts the library, its headers and a package config in place,
# so another project can `find_package(cudl)` and link `cudl::cudl`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(dir ${CUDL_SOURCE_DIRS})
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cudl/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
install(TARGETS cudl EXPORT cudlTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS cudl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT cudlTargets NAMESPACE cudl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cudl)

set(CUDL_CONFIG_WITH_CUDA ${CUDL_WITH_CUDA})
configure_package_config_file(cmake/cudlConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/cudlConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cudl)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cudlConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cudlConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/cudlConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cudl)
