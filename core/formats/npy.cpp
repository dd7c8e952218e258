#include "core/formats/npy.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include "core/formats/atomic_file.h"
#include "core/formats/io_util.h"

namespace cudl {

namespace {

using formats::file_error;

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;
constexpr std::uint64_t kMaxHeaderBytes = 1u << 20;

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Values are strings, True/False or tuples of integers; this parser accepts
// exactly that and reports the position of anything else.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  struct Value {
    enum class Kind { String, Bool, Tuple } kind;
    std::string text;
    bool flag = false;
    std::vector<std::int64_t> ints;
  };

  std::map<std::string, Value> parse_dict() {
    std::map<std::string, Value> dict;
    expect('{');
    while (!consume('}')) {
      std::string key = parse_string();
      expect(':');
      dict[key] = parse_value();
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    file_error(path_, "malformed .npy header at character ", pos_, ": ", what, " (header: ", formats::excerpt(text_), ")");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  std::int64_t parse_int() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == start) fail("expected a non-negative integer");
    if (pos_ - start > 18) fail("dimension too large");
    std::int64_t v = 0;
    for (std::size_t i = start; i < pos_; ++i) v = v * 10 + (text_[i] - '0');
    // Python 2 era writers append 'L' to longs.
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    return v;
  }
  Value parse_value() {
    skip_space();
    Value v{};
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      v.kind = Value::Kind::String;
      v.text = parse_string();
    } else if (text_.compare(pos_, 4, "True") == 0 || text_.compare(pos_, 5, "False") == 0) {
      v.kind = Value::Kind::Bool;
      v.flag = text_[pos_] == 'T';
      pos_ += v.flag ? 4 : 5;
    } else if (consume('(')) {
      v.kind = Value::Kind::Tuple;
      while (!consume(')')) {
        v.ints.push_back(parse_int());
        if (!consume(',')) {
          expect(')');
          break;
        }
      }
    } else {
      fail("expected a string, True/False or a tuple");
    }
    return v;
  }

  const std::string& path_;
  const std::string& text_;
  std::size_t pos_ = 0;
};

DType parse_descr(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return DType::F32;
  if (descr == "<i8") return DType::I64;
  if (descr == "|u1" || descr == "<u1") return DType::U8;
  file_error(path, "dtype '", descr, "' is not supported; cudl reads '<f4' (float32), '<i8' (int64) and '|u1' (uint8)");
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::F32: return "<f4";
    case DType::I64: return "<i8";
    case DType::U8: return "|u1";
  }
  return "?";
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::uint64_t file_bytes = 0;
  std::ifstream in = formats::open_input(path, file_bytes);
  // magic (6), version (2), header length (2 bytes in version 1, else 4)
  unsigned char preamble[12];
  if (file_bytes < 10) file_error(path, "truncated: ", file_bytes, " bytes, too short for a .npy preamble");
  formats::read_exact(in, preamble, 8, path, "the .npy magic and version");
  if (std::memcmp(preamble, kMagic, kMagicBytes) != 0) file_error(path, "not a .npy file (wrong magic bytes)");
  const int major = preamble[6];
  if (major < 1 || major > 3)
    file_error(path, ".npy format version ", major, ".", int(preamble[7]), " is not supported (1.0 to 3.0 are)");
  const std::uint64_t length_bytes = major == 1 ? 2 : 4;
  formats::read_exact(in, preamble + 8, length_bytes, path, "the .npy header length");
  std::uint64_t header_bytes = 0;
  for (int i = static_cast<int>(length_bytes) - 1; i >= 0; --i) header_bytes = (header_bytes << 8) | preamble[8 + i];
  const std::uint64_t data_start = 8 + length_bytes + header_bytes;
  if (data_start > file_bytes)
    file_error(path, "header length ", header_bytes, " runs past the end of the ", file_bytes, "-byte file");
  if (header_bytes > kMaxHeaderBytes) file_error(path, "header length ", header_bytes, " is implausibly large");
  std::string header(header_bytes, '\0');
  formats::read_exact(in, header.data(), header_bytes, path, "the .npy header");
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0')) header.pop_back();

  const auto dict = HeaderParser(path, header).parse_dict();
  auto field = [&](const char* key, HeaderParser::Value::Kind kind, const char* kind_name) -> const HeaderParser::Value& {
    auto it = dict.find(key);
    if (it == dict.end()) file_error(path, ".npy header has no '", key, "' (header: ", formats::excerpt(header), ")");
    if (it->second.kind != kind) file_error(path, ".npy header's '", key, "' is not ", kind_name);
    return it->second;
  };
  using Kind = HeaderParser::Value::Kind;
  const DType dtype = parse_descr(path, field("descr", Kind::String, "a string").text);
  if (field("fortran_order", Kind::Bool, "True or False").flag)
    file_error(path, "array is stored in Fortran order; cudl reads C order only (save with np.ascontiguousarray)");
  const Shape shape = field("shape", Kind::Tuple, "a tuple").ints;
  if (shape.size() > formats::kMaxDims)
    file_error(path, "shape has ", shape.size(), " dimensions, more than the ", formats::kMaxDims, " cudl reads");

  const std::uint64_t data_bytes = file_bytes - data_start;
  const std::uint64_t needed = formats::shape_bytes(std::vector<std::uint64_t>(shape.begin(), shape.end()), dtype_size(dtype));
  if (needed != data_bytes)
    file_error(path, needed > data_bytes ? "truncated: " : "", dtype_name(dtype), " ", shape_str(shape), " needs ",
               formats::bytes_str(needed), " of data but the file holds ", data_bytes);
  Tensor t = Tensor::empty(shape, dtype);
  formats::read_exact(in, t.raw_data(), needed, path, "the array data");
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  CUDL_CHECK(t.defined(), path, ": cannot write an undefined tensor");
  std::string shape;
  for (std::int64_t d : t.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
  if (t.dim() == 1) shape += ",";  // a Python 1-tuple
  std::string header =
      std::string("{'descr': '") + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Version 1.0 holds headers up to 65535 bytes; the total preamble + header is
  // padded with spaces to a multiple of 64 and ends in a newline.
  const bool v1 = header.size() + 64 < 65536;
  const std::size_t preamble = v1 ? 10 : 12;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';

  const Tensor host = t.is_cuda() ? t.to(Device::cpu()) : t.view();
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(kMagic, kMagicBytes);
    const char version[2] = {static_cast<char>(v1 ? 1 : 2), 0};
    out.write(version, 2);
    const std::uint64_t n = header.size();
    for (std::size_t i = 0; i < preamble - 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(host.raw_data()), static_cast<std::streamsize>(host.nbytes()));
  });
}

}  // namespace cudl
