# The CPU BLAS behind the fast CPU kernels (GEMM in linear and im2col conv).
# Exposed as the interface target `cudl_blas`; `CUDL_BLAS` picks the library.
# BLIS (OpenMP variant) is the default: as fast as OpenBLAS here and it runs on
# the same OpenMP thread pool as cudl's own kernels (see benchmarks/README.md).
add_library(cudl_blas INTERFACE)
if(CUDL_BLAS STREQUAL "blis")
  # Debian keeps each threading variant in its own folder, behind an
  # update-alternatives link that unpacked (dpkg -x) packages lack; blis.h,
  # unlike cblas.h, is not shared with OpenBLAS.
  find_library(CUDL_BLIS_LIBRARY NAMES blis PATH_SUFFIXES blis-openmp blis-pthread REQUIRED)
  find_path(CUDL_BLIS_INCLUDE NAMES blis.h PATH_SUFFIXES blis-openmp blis-pthread blis REQUIRED)
elseif(CUDL_BLAS STREQUAL "openblas")
  find_library(CUDL_OPENBLAS_LIBRARY NAMES openblas REQUIRED)
  find_path(CUDL_OPENBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES openblas openblas-pthread REQUIRED)
else()
  message(FATAL_ERROR "CUDL_BLAS must be openblas or blis, got '${CUDL_BLAS}'")
endif()
# Cached per library, so switching CUDL_BLAS in a configured build takes effect.
string(TOUPPER ${CUDL_BLAS} blas_upper)
target_link_libraries(cudl_blas INTERFACE ${CUDL_${blas_upper}_LIBRARY})
target_include_directories(cudl_blas SYSTEM INTERFACE ${CUDL_${blas_upper}_INCLUDE})
target_compile_definitions(cudl_blas INTERFACE CUDL_BLAS_${blas_upper}=1)
install(TARGETS cudl_blas EXPORT cudlTargets)
