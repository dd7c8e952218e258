#include "core/formats/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/formats/io_util.h"

namespace cudl {

namespace {

using formats::file_error;

// MNIST's largest file is 47 MB; the bounds stop a corrupt or hostile file from
// exhausting memory.
constexpr std::uint64_t kMaxFileBytes = 1ull << 31;
constexpr std::uint64_t kMaxDataBytes = 1ull << 32;

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// The big-endian 32-bit dimensions that follow the 4-byte magic number.
std::vector<std::uint64_t> header_dims(const std::vector<std::uint8_t>& bytes, int ndim) {
  std::vector<std::uint64_t> dims;
  for (int d = 0; d < ndim; ++d) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * d;
    dims.push_back((std::uint64_t(p[0]) << 24) | (std::uint64_t(p[1]) << 16) | (std::uint64_t(p[2]) << 8) | p[3]);
  }
  return dims;
}

// The file size the header in `bytes` promises (header plus data), once enough
// of it is there to tell; 0 while it is not. Overflow yields UINT64_MAX.
std::uint64_t promised_size(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 4) return 0;
  const std::uint64_t header_bytes = 4 + 4 * static_cast<std::uint64_t>(bytes[3]);
  if (bytes.size() < header_bytes) return 0;
  const std::uint64_t data = formats::shape_bytes(header_dims(bytes, bytes[3]), 1);
  return data > std::numeric_limits<std::uint64_t>::max() - header_bytes ? data : header_bytes + data;
}

// Decompresses until the stream ends or the output passes the size its IDX
// header promises (or kMaxDataBytes), so a gzip bomb costs no more memory than
// the file it claims to be; read_idx then reports the size mismatch.
std::vector<std::uint8_t> gunzip(const std::string& path, const std::vector<std::uint8_t>& compressed) {
  z_stream stream{};
  // 15 + 16: a gzip wrapper, not zlib or raw deflate.
  if (inflateInit2(&stream, 15 + 16) != Z_OK) file_error(path, "cannot start gzip decompression");
  std::vector<std::uint8_t> out;
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::uint64_t limit = kMaxDataBytes;
  bool promise_known = false;
  while (true) {
    if (const std::uint64_t promised = promised_size(out); promised != 0 && !promise_known) {
      promise_known = true;
      // A promise past the bound is refused by read_idx with what is in hand.
      if (promised > kMaxDataBytes) break;
      limit = promised;
    }
    if (out.size() > limit) {
      if (!promise_known) {
        inflateEnd(&stream);
        file_error(path, "decompresses to more than ", kMaxDataBytes, " bytes");
      }
      break;  // one byte past the promise: enough for read_idx to name the mismatch
    }
    // At most one byte past the limit.
    const std::uint64_t step = std::min<std::uint64_t>(1u << 20, std::max<std::uint64_t>(limit + 1 - out.size(), 1));
    const std::size_t old_size = out.size();
    out.resize(old_size + step);
    stream.next_out = out.data() + old_size;
    stream.avail_out = static_cast<uInt>(step);
    const int rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
    if (rc == Z_STREAM_END) {
      // gzip allows several members one after another (as `cat a.gz b.gz`).
      if (stream.avail_in == 0) break;
      if (inflateReset(&stream) != Z_OK) break;
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
      inflateEnd(&stream);
      file_error(path, "gzip data ends early (truncated file)");
    }
    const std::string reason = stream.msg ? stream.msg : zError(rc);
    inflateEnd(&stream);
    file_error(path, "corrupt gzip data: ", reason);
  }
  inflateEnd(&stream);
  return out;
}

const char* idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "unknown";
}

}  // namespace

Tensor read_idx(const std::string& path) {
  std::vector<std::uint8_t> bytes = formats::read_all(path, kMaxFileBytes);
  const bool compressed = is_gzip(bytes);
  if (compressed) bytes = gunzip(path, bytes);
  if (bytes.size() < 4) file_error(path, "truncated: ", bytes.size(), " bytes, too short for the IDX magic number");
  if (bytes[0] != 0 || bytes[1] != 0)
    file_error(path, "not an IDX file (magic number starts ", int(bytes[0]), " ", int(bytes[1]), ", expected 0 0)");
  const std::uint8_t type = bytes[2];
  if (type != 0x08)
    file_error(path, "IDX element type 0x", "0123456789ABCDEF"[type >> 4], "0123456789ABCDEF"[type & 15], " (",
               idx_type_name(type), ") is not supported; cudl reads unsigned-byte IDX files (0x08)");
  const int ndim = bytes[3];
  if (ndim == 0) file_error(path, "IDX header declares 0 dimensions");
  const std::uint64_t header_bytes = 4 + 4 * static_cast<std::uint64_t>(ndim);
  if (bytes.size() < header_bytes)
    file_error(path, "truncated: the header declares ", ndim, " dimensions but the file ends after ", bytes.size(), " bytes");
  const std::vector<std::uint64_t> dims = header_dims(bytes, ndim);
  const Shape shape(dims.begin(), dims.end());
  const std::uint64_t data_bytes = bytes.size() - header_bytes;
  const std::uint64_t needed = formats::shape_bytes(dims, 1);
  if (needed != data_bytes)
    file_error(path, needed > data_bytes ? "truncated: " : "", "dimensions ", shape_str(shape), " need ",
               formats::bytes_str(needed), " of data but the file holds ",
               compressed && data_bytes > needed ? "more" : std::to_string(data_bytes));
  Tensor t = Tensor::empty(shape, DType::U8);
  std::memcpy(t.raw_data(), bytes.data() + header_bytes, data_bytes);
  return t;
}

}  // namespace cudl
