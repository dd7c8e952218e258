# The CPU BLAS behind the fast CPU kernels (GEMM in linear and im2col conv).
# Exposed as the interface target `cudl_blas`; `CUDL_BLAS` picks the library.
add_library(cudl_blas INTERFACE)
if(CUDL_BLAS STREQUAL "blis")
  # Debian installs BLIS's cblas.h beside OpenBLAS's, under the threading variant's folder.
  find_library(CUDL_BLAS_LIBRARY NAMES blis-openmp blis REQUIRED)
  find_path(CUDL_CBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES blis-openmp blis-pthread blis NO_DEFAULT_PATH
            PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include /usr/local/include REQUIRED)
elseif(CUDL_BLAS STREQUAL "openblas")
  find_library(CUDL_BLAS_LIBRARY NAMES openblas REQUIRED)
  find_path(CUDL_CBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES openblas openblas-pthread REQUIRED)
else()
  message(FATAL_ERROR "CUDL_BLAS must be openblas or blis, got '${CUDL_BLAS}'")
endif()
target_link_libraries(cudl_blas INTERFACE ${CUDL_BLAS_LIBRARY})
target_include_directories(cudl_blas SYSTEM INTERFACE ${CUDL_CBLAS_INCLUDE})
target_compile_definitions(cudl_blas INTERFACE CUDL_BLAS_$<UPPER_CASE:${CUDL_BLAS}>=1)
install(TARGETS cudl_blas EXPORT cudlTargets)
