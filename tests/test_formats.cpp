// The file formats: exact round trips, and a clear cudl::Error (naming the file
// and the problem) for every kind of malformed file, never a crash.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/formats/atomic_file.h"
#include "core/formats/idx.h"
#include "core/formats/json.h"
#include "core/formats/npy.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "tests/test_util.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

class Formats : public test::ScratchDirTest {
 protected:
  static std::string read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write_bytes(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // Every proper prefix of `bytes`, written to `cut`, must make read(cut) throw an error naming it.
  static void expect_every_truncation_fails(const std::string& bytes, const std::string& cut,
                                            const std::function<void(const std::string&)>& read);
};

// `read` must throw cudl::Error whose message names `file` and contains `problem`.
void expect_file_error(const std::function<void()>& read, const std::string& file, const std::string& problem) {
  try {
    read();
    ADD_FAILURE() << "no error reading " << file << " (expected one about '" << problem << "')";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file), std::string::npos) << "message does not name the file: " << message;
    EXPECT_NE(message.find(problem), std::string::npos) << "expected '" << problem << "' in: " << message;
  }
}

void Formats::expect_every_truncation_fails(const std::string& bytes, const std::string& cut,
                                            const std::function<void(const std::string&)>& read) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE("truncated to " + std::to_string(n) + " of " + std::to_string(bytes.size()) + " bytes");
    write_bytes(cut, bytes.substr(0, n));
    expect_file_error([&] { read(cut); }, cut, "");
  }
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A safetensors file from a literal header and `data_bytes` zero bytes of data.
std::string safetensors_bytes(const std::string& header, std::size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

std::string npy_bytes(const std::string& dict, std::size_t data_bytes, int major = 1) {
  std::string header = dict + "\n";
  std::string s = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const int length_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < length_bytes; ++i) s += static_cast<char>(header.size() >> (8 * i));
  return s + header + std::string(data_bytes, '\x01');
}

std::string idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>(d >> shift);
  for (std::size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i * 7);
  return s;
}

void write_gzip(const std::string& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

Tensor u8_tensor(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::U8);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i * 37 + 5);
  return t;
}

TensorMap sample_tensors() {
  Generator gen(7);
  TensorMap m;
  m.emplace("x", randn({2, 3, 5}, gen));
  m.emplace("labels", Tensor::from_vector(std::vector<std::int64_t>{0, -3, 1ll << 40, 9}, {4}));
  m.emplace("pixels", u8_tensor({3, 2, 2}));
  m.emplace("scalar", Tensor::from_vector(std::vector<float>{2.5f}, {}));
  return m;
}

}  // namespace

// ---- safetensors ----

TEST_F(Formats, SafetensorsRoundTripsEveryDtypeAndMetadata) {
  const TensorMap original = sample_tensors();
  const std::map<std::string, std::string> metadata{{"op", "conv2d"}, {"stride", "2"}, {"eps", "1e-05"}};
  write_safetensors(path("a.safetensors"), original, metadata);
  SafetensorsFile file = read_safetensors(path("a.safetensors"));
  EXPECT_EQ(file.metadata, metadata);
  ASSERT_EQ(file.tensors.size(), original.size());
  for (const auto& [name, t] : original) {
    ASSERT_TRUE(file.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(file.tensors.at(name), t)) << name << ": " << file.tensors.at(name).str();
  }
  // Data starts 8-byte aligned.
  const std::string bytes = read_bytes(path("a.safetensors"));
  std::uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(header % 8, 0u);
}

TEST_F(Formats, SafetensorsReadsEmptyTensorsAndNoMetadata) {
  TensorMap m;
  m.emplace("empty", Tensor::empty({0, 3}));
  m.emplace("one", Tensor::from_vector(std::vector<float>{1.0f}, {1}));
  write_safetensors(path("e.safetensors"), m);
  SafetensorsFile file = read_safetensors(path("e.safetensors"));
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_EQ(file.tensors.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(file.tensors.at("one").item(), 1.0f);
}

TEST_F(Formats, SafetensorsTruncatedAnywhereIsAnError) {
  TensorMap m;
  m.emplace("a", Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}));
  m.emplace("b", Tensor::from_vector(std::vector<std::int64_t>{4, 5}, {2}));
  write_safetensors(path("full.safetensors"), m, {{"op", "relu"}});
  const std::string bytes = read_bytes(path("full.safetensors"));
  expect_every_truncation_fails(bytes, path("cut.safetensors"), [](const std::string& p) { read_safetensors(p); });
}

TEST_F(Formats, SafetensorsMalformedHeadersGiveClearErrors) {
  const std::string p = path("bad.safetensors");
  const std::string good_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  struct Case {
    std::string bytes, problem;
  };
  const std::vector<Case> cases = {
      {"abc", "too short"},
      {le64(1ull << 62) + "{}", "runs past the end"},
      {le64(3) + "{}", "runs past the end"},
      {safetensors_bytes("{not json", 0), "not valid JSON"},
      {safetensors_bytes("[1,2]", 0), "not an object"},
      {safetensors_bytes("{" + good_entry + "}", 4), "past the end"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999]}})", 8), "past the end"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "backwards"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 12), "(12 bytes) but its data_offsets [0, 8] span 8 bytes"},
      {safetensors_bytes(R"({"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4), "dtype 'F16'"},
      {safetensors_bytes(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", 8), "no \"dtype\""},
      {safetensors_bytes(R"({"x":{"dtype":"F32","data_offsets":[0,8]}})", 8), "no \"shape\""},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", 8), "not an integer"},
      {safetensors_bytes(R"({"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8),
       "more than 2^63 bytes"},
      {safetensors_bytes(R"({"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                         R"("y":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                         8),
       "overlap"},
      {safetensors_bytes(R"({"__metadata__":{"op":3},)" + good_entry + "}", 8), "not a string"},
      {safetensors_bytes(R"({"__metadata__":[],)" + good_entry + "}", 8), "__metadata__"},
      {safetensors_bytes(R"({"x":7})", 0), "not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.problem);
    write_bytes(p, c.bytes);
    expect_file_error([&] { read_safetensors(p); }, p, c.problem);
  }
}

TEST_F(Formats, MissingFileIsAnError) {
  const std::string p = path("nothing_here.safetensors");
  expect_file_error([&] { read_safetensors(p); }, p, "no such file");
  expect_file_error([&] { read_npy(p); }, p, "no such file");
  expect_file_error([&] { read_idx(p); }, p, "no such file");
  expect_file_error([&] { read_idx(dir_.string()); }, dir_.string(), "is a folder");
}

// Every byte of a file replaced by values that upset parsers: each read either
// succeeds or throws cudl::Error (run under the sanitizers, this also proves no
// out-of-bounds access). Returns how many reads threw.
int count_errors_on_corruption(const std::string& good, const std::string& scratch,
                                   const std::function<void()>& read) {
  std::ofstream(scratch, std::ios::binary | std::ios::trunc).write(good.data(), static_cast<std::streamsize>(good.size()));
  // Patched in place: the file keeps its size, so no truncation (slow on some file systems).
  std::fstream file(scratch, std::ios::binary | std::ios::in | std::ios::out);
  int errors = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char value : {'\0', '\xff', '"', '9', good[i]}) {
      file.seekp(static_cast<std::streamoff>(i));
      file.put(value);
      file.flush();
      try {
        read();
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  return errors;
}

TEST_F(Formats, CorruptingAnyByteNeverCrashes) {
  TensorMap m;
  m.emplace("x", Tensor::from_vector(std::vector<float>{1, 2}, {2, 1}));
  m.emplace("y", Tensor::from_vector(std::vector<std::int64_t>{3}, {1}));
  write_safetensors(path("a.safetensors"), m, {{"op", "relu"}});
  // Most corruptions of the headers are caught; those of data bytes read fine.
  EXPECT_GT(count_errors_on_corruption(read_bytes(path("a.safetensors")), path("c.safetensors"),
                                       [&] { read_safetensors(path("c.safetensors")); }),
            200);
  write_npy(path("a.npy"), m.at("x"));
  EXPECT_GT(count_errors_on_corruption(read_bytes(path("a.npy")), path("c.npy"), [&] { read_npy(path("c.npy")); }),
            100);
  EXPECT_GT(count_errors_on_corruption(idx_bytes(0x08, {2, 3}, 6), path("c-idx"), [&] { read_idx(path("c-idx")); }),
            20);
}

// ---- npy ----

TEST_F(Formats, NpyRoundTripsEveryDtypeAndShape) {
  Generator gen(3);
  TensorMap cases;
  cases.emplace("f32_3d", randn({2, 3, 4}, gen));
  cases.emplace("f32_1d", randn({5}, gen));
  cases.emplace("f32_0d", Tensor::from_vector(std::vector<float>{-1.25f}, {}));
  cases.emplace("i64", Tensor::from_vector(std::vector<std::int64_t>{-1, 0, 1ll << 50}, {3, 1}));
  cases.emplace("u8", u8_tensor({4, 7}));
  cases.emplace("empty", Tensor::empty({0, 2}));
  for (const auto& [name, t] : cases) {
    const std::string p = path(name + ".npy");
    write_npy(p, t);
    EXPECT_TRUE(same_bytes(read_npy(p), t)) << name;
    // numpy's layout: the data starts 64-byte aligned after a newline-terminated header.
    const std::string bytes = read_bytes(p);
    const std::size_t data_start = bytes.size() - t.nbytes();
    EXPECT_EQ(data_start % 64, 0u) << name;
    EXPECT_EQ(bytes[data_start - 1], '\n') << name;
  }
}

TEST_F(Formats, NpyReadsVersions2And3AndLooseHeaders) {
  const std::string p = path("v.npy");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 2));
  EXPECT_EQ(read_npy(p).shape(), (Shape{2, 3}));
  write_bytes(p, npy_bytes(R"({"shape":(3,),"fortran_order":False,"descr":"<i8"})", 24, 3));
  Tensor t = read_npy(p);
  EXPECT_EQ(t.shape(), (Shape{3}));
  EXPECT_EQ(t.dtype(), DType::I64);
  write_bytes(p, npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 1));
  EXPECT_EQ(read_npy(p).shape(), Shape{});
}

TEST_F(Formats, NpyMalformedFilesGiveClearErrors) {
  const std::string p = path("bad.npy");
  const std::string f32 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  struct Case {
    std::string bytes, problem;
  };
  std::string wrong_magic = npy_bytes(f32, 8);
  wrong_magic[1] = 'X';
  std::string long_header = npy_bytes(f32, 8);
  long_header[8] = '\xff';
  long_header[9] = '\x7f';
  const std::vector<Case> cases = {
      {"\x93NUM", "too short"},
      {wrong_magic, "wrong magic"},
      {npy_bytes(f32, 8, 4), "version 4"},
      {long_header, "runs past the end"},
      {npy_bytes(f32, 7), "truncated"},
      {npy_bytes(f32, 9), "needs 8 bytes of data but the file holds 9"},
      {npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), "'>f4'"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8), "'<f8'"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8), "Fortran order"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, }", 8), "no 'shape'"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8), "non-negative integer"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", 8), "malformed"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8), "malformed"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8), "too large"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000000000, 100000000000000000), }", 8),
       "more than 2^63 bytes"},
      {npy_bytes("{'descr': 7, 'fortran_order': False, 'shape': (2,), }", 8), "malformed"},
      {npy_bytes("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }", 8), "not True or False"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.problem);
    write_bytes(p, c.bytes);
    expect_file_error([&] { read_npy(p); }, p, c.problem);
  }
}

TEST_F(Formats, NpyTruncatedAnywhereIsAnError) {
  write_npy(path("full.npy"), Tensor::from_vector(std::vector<std::int64_t>{1, 2, 3}, {3}));
  const std::string bytes = read_bytes(path("full.npy"));
  expect_every_truncation_fails(bytes, path("cut.npy"), [](const std::string& p) { read_npy(p); });
}

// ---- idx ----

TEST_F(Formats, IdxReadsRawAndGzippedFiles) {
  const std::string raw = idx_bytes(0x08, {3, 2, 5}, 30);
  write_bytes(path("images-idx3-ubyte"), raw);
  write_gzip(path("images-idx3-ubyte.gz"), raw);
  for (const char* name : {"images-idx3-ubyte", "images-idx3-ubyte.gz"}) {
    Tensor t = read_idx(path(name));
    EXPECT_EQ(t.shape(), (Shape{3, 2, 5})) << name;
    EXPECT_EQ(t.dtype(), DType::U8);
    EXPECT_EQ(std::memcmp(t.raw_data(), raw.data() + 16, 30), 0) << name;
  }
  // Detected by magic, not by name: gzip data under a plain name still reads.
  fs::copy_file(path("images-idx3-ubyte.gz"), path("misnamed"));
  EXPECT_EQ(read_idx(path("misnamed")).shape(), (Shape{3, 2, 5}));
}

TEST_F(Formats, IdxReadsFashionMnistWhenPresent) {
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(labels)) GTEST_SKIP() << "Fashion-MNIST not installed at " << labels;
  Tensor t = read_idx(labels);
  ASSERT_EQ(t.shape(), (Shape{10000}));  // the published test-set size
  for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_LT(t.data<std::uint8_t>()[i], 10);
  EXPECT_EQ(read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").shape(), (Shape{10000, 28, 28}));
}

TEST_F(Formats, IdxMalformedFilesGiveClearErrors) {
  const std::string p = path("bad-idx");
  struct Case {
    std::string bytes, problem;
  };
  std::string bad_magic = idx_bytes(0x08, {4}, 4);
  bad_magic[0] = 1;
  const std::vector<Case> cases = {
      {"\0\0", "too short"},
      {bad_magic, "not an IDX file"},
      {idx_bytes(0x0D, {2}, 8), "0x0D (float32) is not supported"},
      {idx_bytes(0x0C, {2}, 8), "0x0C (int32)"},
      {idx_bytes(0x08, {}, 0), "0 dimensions"},
      {idx_bytes(0x08, {4, 4}, 15), "truncated: dimensions [4,4] need 16 bytes"},
      {idx_bytes(0x08, {4}, 5), "need 4 bytes of data but the file holds 5"},
      {idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 8), "need more than 2^63 bytes"},
      {idx_bytes(0x08, {2, 2}, 0).substr(0, 9), "declares 2 dimensions"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.problem);
    write_bytes(p, c.bytes);
    expect_file_error([&] { read_idx(p); }, p, c.problem);
  }
}

TEST_F(Formats, IdxTruncatedOrCorruptGzipIsAnError) {
  write_gzip(path("full.gz"), idx_bytes(0x08, {50, 7}, 350));
  const std::string bytes = read_bytes(path("full.gz"));
  const std::string cut = path("cut.gz");
  expect_every_truncation_fails(bytes, cut, [](const std::string& p) { read_idx(p); });
  write_bytes(cut, bytes.substr(0, bytes.size() / 2));
  expect_file_error([&] { read_idx(cut); }, cut, "gzip data ends early");
  std::string corrupt = bytes;
  for (std::size_t i = 12; i < 20; ++i) corrupt[i] = static_cast<char>(~corrupt[i]);
  write_bytes(cut, corrupt);
  expect_file_error([&] { read_idx(cut); }, cut, "gzip");
}

TEST_F(Formats, IdxTruncatedRawAnywhereIsAnError) {
  const std::string bytes = idx_bytes(0x08, {3, 4}, 12);
  expect_every_truncation_fails(bytes, path("cut-idx"), [](const std::string& p) { read_idx(p); });
}

// ---- atomic writes ----

TEST_F(Formats, InterruptedAtomicWriteLeavesOldFileAndNoTemporary) {
  const std::string p = path("checkpoint.bin");
  write_file_atomic(p, [](std::ostream& out) { out << "old contents"; });
  EXPECT_THROW(write_file_atomic(p,
                                 [](std::ostream& out) {
                                   out << std::string(1 << 16, 'x');
                                   throw Error("disk on fire");
                                 }),
               Error);
  EXPECT_EQ(read_bytes(p), "old contents");
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename(), "checkpoint.bin") << "left behind: " << entry.path();

  write_file_atomic(p, [](std::ostream& out) { out << "new"; });
  EXPECT_EQ(read_bytes(p), "new");
}

TEST_F(Formats, AtomicWriteIntoMissingFolderIsAnError) {
  const std::string p = path("no/such/folder/file.safetensors");
  expect_file_error([&] { write_safetensors(p, sample_tensors()); }, p, "cannot create");
}

// ---- hostile files (issue #14) ----

TEST_F(Formats, DeeplyNestedJsonIsRejectedWithoutEchoingIt) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string p = path("deep.safetensors");
  for (const std::string& header :
       {R"({"x":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,0]}})",
        R"({"__metadata__":{"a":)" + deep + "}}"}) {
    write_bytes(p, safetensors_bytes(header, 0));
    try {
      read_safetensors(p);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("more than 64 levels deep"), std::string::npos) << e.what();
      EXPECT_LT(std::string(e.what()).size(), 400u) << "the value is not printed";
    }
  }
  // Brackets inside strings are text, not nesting.
  EXPECT_EQ(formats::parse_json("[\"" + std::string(1000, '[') + "\"]", "doc").size(), 1u);
  expect_file_error([] { formats::parse_json("[1,", "run/args.json"); }, "run/args.json", "not valid JSON");
}

TEST_F(Formats, ValuesInErrorsAreCut) {
  const std::string p = path("long.safetensors");
  const std::string long_array = "[" + std::string(20000, '1') + ".5]";
  write_bytes(p, safetensors_bytes(R"({"x":{"dtype":"F32","shape":[)" + long_array + R"(],"data_offsets":[0,0]}})", 0));
  try {
    read_safetensors(p);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 400u) << e.what();
  }
}

TEST_F(Formats, ZeroDimensionDoesNotHideAnOverflowingShape) {
  const std::string npy = path("zero.npy");
  write_bytes(npy, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2, 933333333333332320, 3, 0), }", 0));
  expect_file_error([&] { read_npy(npy); }, npy, "more than 2^63 bytes");

  const std::string idx = path("zero-idx");
  std::vector<std::uint32_t> dims(10, 0xfffffff0u);
  dims[4] = 0;
  write_bytes(idx, idx_bytes(0x08, dims, 0));
  expect_file_error([&] { read_idx(idx); }, idx, "more than 2^63 bytes");

  const std::string st = path("zero.safetensors");
  write_bytes(st, safetensors_bytes(
                      R"({"x":{"dtype":"I64","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", 0));
  expect_file_error([&] { read_safetensors(st); }, st, "more than 2^63 bytes");

  EXPECT_THROW(shape_numel({0, std::int64_t{1} << 40, std::int64_t{1} << 40}), Error);
  EXPECT_THROW(Tensor::empty({std::int64_t{1} << 62}, DType::I64), Error);
  EXPECT_EQ(shape_numel({3, 0, 5}), 0);
}

TEST_F(Formats, GzipBombStopsAtTheSizeItsHeaderPromises) {
  // 64 MiB of zeros behind a header that promises 16 bytes: decompression must
  // stop just past the promise (a bomb costs no memory) and name the mismatch.
  std::string bomb = idx_bytes(0x08, {16}, 16);
  bomb.append(64u << 20, '\0');
  const std::string p = path("bomb.gz");
  write_gzip(p, bomb);
  expect_file_error([&] { read_idx(p); }, p, "need 16 bytes of data but the file holds more");
}

TEST_F(Formats, StaleTemporariesOfDeadProcessesAreRemoved) {
  // pid_max is at most 2^22 on Linux, so this pid cannot be running.
  const std::string dead = path("last.safetensors.tmp.99999999"), mine = path("x.tmp." + std::to_string(::getpid()));
  write_bytes(dead, "partial");
  write_bytes(mine, "in progress");
  write_bytes(path("notes.tmp.txt"), "not ours");
  EXPECT_EQ(remove_stale_temporaries(dir_.string()), 1);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(path("notes.tmp.txt")));
}
