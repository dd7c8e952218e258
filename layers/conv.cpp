#include "layers/conv.h"

#include "autograd/functions.h"
#include "core/check.h"
#include "layers/init.h"

namespace cudl {

namespace {

std::string conv_name(const char* kind, std::int64_t in, std::int64_t out, std::int64_t k, const Conv2dParams& p,
                      bool with_groups) {
  std::string s = std::string(kind) + "(" + std::to_string(in) + ", " + std::to_string(out) +
                  ", kernel_size=" + std::to_string(k);
  if (p.stride != 1) s += ", stride=" + std::to_string(p.stride);
  if (p.pad != 0) s += ", padding=" + std::to_string(p.pad);
  if (with_groups && p.groups != 1) s += ", groups=" + std::to_string(p.groups);
  return s + ")";
}
}  // namespace

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
               Conv2dParams params_, Device device)
    : params(params_) {
  CUDL_CHECK(params.groups >= 1 && in_channels % params.groups == 0 && out_channels % params.groups == 0,
             "Conv2d: groups ", params.groups, " must divide in_channels ", in_channels, " and out_channels ",
             out_channels);
  const std::int64_t fan_in = in_channels / params.groups * kernel_size * kernel_size;
  const float bound = default_init_bound(fan_in);
  weight = Parameter(
      uniform_parameter({out_channels, in_channels / params.groups, kernel_size, kernel_size}, bound, gen, device));
  bias = Parameter(uniform_parameter({out_channels}, bound, gen, device));
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Var Conv2d::forward(const Var& x) { return conv2d(x, weight, bias, params); }

std::string Conv2d::name() const {
  const Shape& w = weight.shape();
  return conv_name("Conv2d", w[1] * params.groups, w[0], w[2], params, true);
}

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                                 Generator& gen, Conv2dParams params_, Device device)
    : params(params_) {
  CUDL_CHECK(params.groups == 1, "ConvTranspose2d: groups must be 1, got ", params.groups);
  const float bound = default_init_bound(out_channels * kernel_size * kernel_size);
  weight = Parameter(uniform_parameter({in_channels, out_channels, kernel_size, kernel_size}, bound, gen, device));
  bias = Parameter(uniform_parameter({out_channels}, bound, gen, device));
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Var ConvTranspose2d::forward(const Var& x) { return conv_transpose2d(x, weight, bias, params); }

std::string ConvTranspose2d::name() const {
  const Shape& w = weight.shape();
  return conv_name("ConvTranspose2d", w[0], w[1], w[2], params, false);
}

}  // namespace cudl
