// Thin wrapper over OpenBLAS's sgemm for column-major Eigen blocks (internal to src/learn).
#pragma once

#include <Eigen/Core>

namespace monobody::blas {

// C = alpha * op(A) * op(B) + beta * C, where op(X) is X or X^T. All column-major with their own strides.
template <typename MA, typename MB, typename MC>
void gemm(bool transpose_a, bool transpose_b, float alpha, const MA& A, const MB& B, float beta, MC&& C);

void sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

template <typename MA, typename MB, typename MC>
void gemm(bool transpose_a, bool transpose_b, float alpha, const MA& A, const MB& B, float beta, MC&& C) {
  const int m = int(transpose_a ? A.cols() : A.rows());
  const int k = int(transpose_a ? A.rows() : A.cols());
  const int n = int(transpose_b ? B.rows() : B.cols());
  eigen_assert(C.rows() == m && C.cols() == n);
  eigen_assert((transpose_b ? B.cols() : B.rows()) == k);
  sgemm(transpose_a, transpose_b, m, n, k, alpha, A.data(), int(A.outerStride()), B.data(), int(B.outerStride()),
        beta, C.data(), int(C.outerStride()));
}

}  // namespace monobody::blas
