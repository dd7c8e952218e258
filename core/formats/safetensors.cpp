#include "core/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/formats/atomic_file.h"
#include "core/formats/io_util.h"
#include "core/formats/json.h"

namespace cudl {

namespace {

using formats::file_error;
using json = nlohmann::json;

// A header is a few KB in practice; the bound keeps a lying length from
// allocating gigabytes before the JSON parser can object.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

DType parse_dtype(const std::string& path, const std::string& name, const json& entry) {
  if (!entry.contains("dtype") || !entry["dtype"].is_string())
    file_error(path, "tensor '", name, "' has no \"dtype\" string");
  const std::string dtype = entry["dtype"].get<std::string>();
  if (dtype == "F32") return DType::F32;
  if (dtype == "I64") return DType::I64;
  if (dtype == "U8") return DType::U8;
  file_error(path, "tensor '", name, "' has dtype '", dtype, "'; cudl reads F32, I64 and U8");
}

// Non-negative integer no larger than `limit`, else an error naming `what`.
std::uint64_t parse_count(const std::string& path, const std::string& name, const char* what, const json& value,
                          std::uint64_t limit) {
  if (!value.is_number_integer()) file_error(path, "tensor '", name, "': ", what, " ", formats::json_excerpt(value), " is not an integer");
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > limit) file_error(path, "tensor '", name, "': ", what, " ", v, " is larger than the ", limit, " possible here");
    return v;
  }
  const auto v = value.get<std::int64_t>();
  if (v < 0) file_error(path, "tensor '", name, "': ", what, " ", v, " is negative");
  if (static_cast<std::uint64_t>(v) > limit)
    file_error(path, "tensor '", name, "': ", what, " ", v, " is larger than the ", limit, " possible here");
  return static_cast<std::uint64_t>(v);
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;  // offsets into the data section
};

Entry parse_entry(const std::string& path, const std::string& name, const json& entry, std::uint64_t data_bytes) {
  if (!entry.is_object()) file_error(path, "tensor '", name, "' is not a JSON object");
  Entry e{name, parse_dtype(path, name, entry), {}, 0, 0};
  const json* offsets = entry.contains("data_offsets") ? &entry["data_offsets"] : nullptr;
  if (!offsets || !offsets->is_array() || offsets->size() != 2)
    file_error(path, "tensor '", name, "' has no \"data_offsets\" pair [begin, end]");
  e.begin = parse_count(path, name, "data offset", (*offsets)[0], std::numeric_limits<std::uint64_t>::max());
  e.end = parse_count(path, name, "data offset", (*offsets)[1], std::numeric_limits<std::uint64_t>::max());
  if (e.begin > e.end) file_error(path, "tensor '", name, "' has data_offsets [", e.begin, ", ", e.end, "] that run backwards");
  if (e.end > data_bytes)
    file_error(path, "tensor '", name, "' has data_offsets [", e.begin, ", ", e.end, "] past the end of the ", data_bytes,
               " data bytes (file truncated?)");
  const std::uint64_t span = e.end - e.begin;

  if (!entry.contains("shape") || !entry["shape"].is_array())
    file_error(path, "tensor '", name, "' has no \"shape\" array");
  if (entry["shape"].size() > formats::kMaxDims)
    file_error(path, "tensor '", name, "' has ", entry["shape"].size(), " dimensions, more than the ", formats::kMaxDims,
               " cudl reads");
  std::vector<std::uint64_t> dims;
  for (const json& d : entry["shape"]) {
    dims.push_back(parse_count(path, name, "dimension", d, std::numeric_limits<std::int64_t>::max()));
    e.shape.push_back(static_cast<std::int64_t>(dims.back()));
  }
  const std::uint64_t bytes = formats::shape_bytes(dims, dtype_size(e.dtype));
  if (bytes != span)
    file_error(path, "tensor '", name, "' is ", safetensors_dtype(e.dtype), " ", shape_str(e.shape), " (",
               formats::bytes_str(bytes), ") but its data_offsets [", e.begin, ", ", e.end, "] span ", span, " bytes");
  return e;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::uint64_t file_bytes = 0;
  std::ifstream in = formats::open_input(path, file_bytes);
  if (file_bytes < 8) file_error(path, "truncated: ", file_bytes, " bytes, too short for the 8-byte header length");
  unsigned char length_bytes[8];
  formats::read_exact(in, length_bytes, 8, path, "the header length");
  std::uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | length_bytes[i];
  if (header_bytes > file_bytes - 8)
    file_error(path, "header length ", header_bytes, " runs past the end of the ", file_bytes,
               "-byte file (truncated, or not a safetensors file)");
  if (header_bytes > kMaxHeaderBytes)
    file_error(path, "header length ", header_bytes, " is over the ", kMaxHeaderBytes, "-byte limit");
  std::string header(header_bytes, '\0');
  formats::read_exact(in, header.data(), header_bytes, path, "the header");

  const json root = formats::parse_json(header, path + ": header");
  if (!root.is_object()) file_error(path, "header is JSON but not an object");

  SafetensorsFile file;
  const std::uint64_t data_bytes = file_bytes - 8 - header_bytes;
  std::vector<Entry> entries;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) file_error(path, "__metadata__ is not a JSON object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) file_error(path, "__metadata__ value of '", key, "' is not a string: ", formats::json_excerpt(text));
        file.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, data_bytes));
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      file_error(path, "tensors '", entries[i - 1].name, "' and '", entries[i].name, "' overlap in the data section");

  const std::uint64_t data_start = 8 + header_bytes;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    formats::read_exact(in, t.raw_data(), e.end - e.begin, path, ("the data of tensor '" + e.name + "'").c_str());
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    CUDL_CHECK(t.defined(), path, ": cannot write undefined tensor '", name, "'");
    CUDL_CHECK(name != "__metadata__", path, ": a tensor cannot be named __metadata__");
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the format recommends.
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomic(path, [&](std::ostream& out) {
    unsigned char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(std::uint64_t(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(length_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : tensors) {
      const Tensor host = t.is_cuda() ? t.to(Device::cpu()) : t.view();
      out.write(static_cast<const char*>(host.raw_data()), static_cast<std::streamsize>(host.nbytes()));
    }
  });
}

}  // namespace cudl
