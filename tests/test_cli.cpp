// The `cudl` binary itself: one-line errors for malformed files, and a golden
// runner that really fails on a wrong case.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <string>

#include "core/formats/safetensors.h"
#include "models/models.h"
#include "train/checkpoint.h"
#include "tests/test_util.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int status;
  std::string output;  // stdout and stderr
};

CliRun run_cli(const std::string& args) {
  const std::string command = std::string("'") + CUDL_CLI + "' " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int rc = pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

int count_matches(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern, std::regex::multiline);
  return static_cast<int>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

class Cli : public test::ScratchDirTest {
 protected:
  // A golden case from tests/golden, with `edit` applied to its tensors.
  void write_variant(const std::string& source, const std::string& name,
                     const std::function<void(SafetensorsFile&)>& edit) {
    SafetensorsFile file = read_safetensors(std::string(CUDL_TEST_DATA_DIR) + "/golden/" + source);
    edit(file);
    write_safetensors(path(name), file.tensors, file.metadata);
  }
};

void scale(Tensor& t, float factor) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= factor;
}

}  // namespace

TEST_F(Cli, InspectListsTensorsAndMetadata) {
  const CliRun run = run_cli("inspect '" + std::string(CUDL_TEST_DATA_DIR) + "/golden/conv2d_1x1.safetensors'");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("metadata op = conv2d"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("float32  [4,6,1,1]"), std::string::npos) << run.output;
}

TEST_F(Cli, InspectOfMalformedFileIsOneLineAndNonZeroExit) {
  const std::string source = std::string(CUDL_TEST_DATA_DIR) + "/golden/linear_small.safetensors";
  const std::string bytes = [&] {
    std::ifstream in(source, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  const std::string truncated = path("truncated.safetensors");
  std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 5));
  const std::string not_npy = path("garbage.npy");
  std::ofstream(not_npy, std::ios::binary) << "this is not a numpy file at all";
  for (const auto& [file, problem] : {std::pair{truncated, "past the end"}, std::pair{not_npy, "wrong magic"}}) {
    const CliRun run = run_cli("inspect '" + file + "'");
    EXPECT_EQ(run.status, 1) << run.output;
    EXPECT_EQ(count_lines(run.output), 1) << run.output;
    EXPECT_NE(run.output.find(file), std::string::npos) << run.output;
    EXPECT_NE(run.output.find(problem), std::string::npos) << run.output;
  }
}

TEST_F(Cli, GoldenPassesGoodCasesAndExitsZero) {
  write_variant("linear_small.safetensors", "linear_good.safetensors", [](SafetensorsFile&) {});
  const CliRun run = run_cli("golden '" + dir_.string() + "'");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(count_matches(run.output, "^PASS  linear_good +cpu_naive "), 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^PASS  linear_good +cpu_fast "), 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^FAIL"), 0) << run.output;
}

TEST_F(Cli, GoldenReportsEveryKindOfWrongCaseAndExitsOne) {
  write_variant("linear_small.safetensors", "a_good.safetensors", [](SafetensorsFile&) {});
  write_variant("linear_small.safetensors", "b_wrong_out.safetensors",
                [](SafetensorsFile& f) { scale(f.tensors.at("out"), 1.001f); });
  write_variant("linear_small.safetensors", "c_wrong_dw.safetensors",
                [](SafetensorsFile& f) { scale(f.tensors.at("dw"), 0.999f); });
  write_variant("linear_small.safetensors", "d_nan_reference.safetensors",
                [](SafetensorsFile& f) { f.tensors.at("dx").data<float>()[3] = NAN; });
  write_variant("linear_small.safetensors", "e_wrong_shape.safetensors", [](SafetensorsFile& f) {
    f.tensors.insert_or_assign("db", Tensor::zeros({7}));
  });
  write_variant("linear_small.safetensors", "f_loose_tolerance.safetensors", [](SafetensorsFile& f) {
    scale(f.tensors.at("out"), 1.001f);
    f.metadata["tol"] = "0.01";
  });
  write_variant("linear_small.safetensors", "g_unknown_op.safetensors",
                [](SafetensorsFile& f) { f.metadata["op"] = "no_such_op"; });
  write_variant("linear_small.safetensors", "h_bad_input.safetensors",
                [](SafetensorsFile& f) { f.tensors.insert_or_assign("w", Tensor::zeros({6, 9})); });
  std::ofstream(path("i_truncated.safetensors"), std::ios::binary) << "12345";
  write_variant("linear_small.safetensors", "j_bad_tolerance.safetensors",
                [](SafetensorsFile& f) { f.metadata["tol"] = "tiny"; });

  const CliRun run = run_cli("golden '" + dir_.string() + "'");
  EXPECT_EQ(run.status, 1) << run.output;
  for (const std::string impl : {"cpu_naive", "cpu_fast"}) {
    EXPECT_EQ(count_matches(run.output, "^PASS  a_good +" + impl), 1) << run.output;
    EXPECT_EQ(count_matches(run.output, "^FAIL  b_wrong_out +" + impl + " .*out 1\\.0e-03"), 1) << run.output;
    EXPECT_EQ(count_matches(run.output, "^FAIL  c_wrong_dw +" + impl + " .*dw 1\\.0e-03"), 1) << run.output;
    EXPECT_EQ(count_matches(run.output, "^FAIL  d_nan_reference +" + impl + " .*non-finite"), 1) << run.output;
    EXPECT_EQ(count_matches(run.output, "^FAIL  e_wrong_shape +" + impl + " .*db: shape \\[6\\], expected \\[7\\]"), 1)
        << run.output;
    EXPECT_EQ(count_matches(run.output, "^PASS  f_loose_tolerance +" + impl), 1) << run.output;
    EXPECT_EQ(count_matches(run.output, "^FAIL  h_bad_input +" + impl + " .*error: linear:"), 1) << run.output;
  }
  EXPECT_EQ(count_matches(run.output, "^FAIL  j_bad_tolerance .*'tol' is not a number"), 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^SKIP  g_unknown_op .*no_such_op"), 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^FAIL  i_truncated .*bad case: .*too short"), 1) << run.output;

  // The summary counts exactly the lines above it.
  const int passed = count_matches(run.output, "^PASS"), failed = count_matches(run.output, "^FAIL"),
            skipped = count_matches(run.output, "^SKIP");
  EXPECT_NE(run.output.find("\n" + std::to_string(passed) + " passed, " + std::to_string(failed) + " failed, " +
                            std::to_string(skipped) + " skipped\n"),
            std::string::npos)
      << run.output;
}

TEST_F(Cli, GoldenImplFilterAndMissingPath) {
  write_variant("linear_small.safetensors", "linear_good.safetensors", [](SafetensorsFile&) {});
  const CliRun only_fast = run_cli("golden --impl cpu_fast '" + dir_.string() + "'");
  EXPECT_EQ(only_fast.status, 0) << only_fast.output;
  EXPECT_NE(only_fast.output.find("1 passed, 0 failed, 0 skipped"), std::string::npos) << only_fast.output;

  const CliRun missing = run_cli("golden '" + path("nowhere") + "'");
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_EQ(count_lines(missing.output), 1) << missing.output;

  fs::create_directories(path("empty"));
  const CliRun empty_folder = run_cli("golden '" + path("empty") + "'");
  EXPECT_EQ(empty_folder.status, 1) << empty_folder.output;
}

TEST_F(Cli, TrainAndEvalRejectBadFlagsInOneLineWithStatusTwo) {
  for (const char* args : {"train convnet --bogus", "train convnet --epochs 0", "train convnet --lr abc",
                           "train convnet --optimizer lbfgs", "train convnet --model resnet", "train", "train mlp",
                           "train convnet --resume", "eval", "eval --checkpoint x --device tpu"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const CliRun help = run_cli("train --help");
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--model", "--device", "--epochs", "--batch-size", "--lr", "--optimizer", "--weight-decay",
                           "--seed", "--data", "--out", "--resume", "--subset"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  EXPECT_NE(help.output.find("(default: 64)"), std::string::npos) << "defaults are shown";
}

TEST_F(Cli, EvalOfTheSavedCheckpointReproducesTrainsTestAccuracy) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "needs Fashion-MNIST (scripts/setup.sh)";
  const CliRun train = run_cli("train fcnet --subset 300 --val 100 --epochs 1 --hidden 32 --device cpu --out '" +
                               path("run") + "'");
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_NE(train.output.find("device: cpu"), std::string::npos);
  std::smatch trained;
  ASSERT_TRUE(std::regex_search(train.output, trained, std::regex("test accuracy ([0-9.]+)%"))) << train.output;
  for (const char* file : {"best.safetensors", "last.safetensors", "state.safetensors", "metrics.csv", "loss.png",
                           "accuracy.png"})
    EXPECT_TRUE(fs::exists(path("run") + "/" + file)) << file;

  const CliRun eval = run_cli("eval --device cpu --checkpoint '" + path("run") + "/best.safetensors'");
  ASSERT_EQ(eval.status, 0) << eval.output;
  std::smatch evaluated;
  ASSERT_TRUE(std::regex_search(eval.output, evaluated, std::regex("test accuracy: ([0-9.]+)%"))) << eval.output;
  EXPECT_EQ(trained[1].str(), evaluated[1].str());
  EXPECT_NE(eval.output.find("Ankle boot"), std::string::npos) << "the confusion matrix names the classes";
}

namespace {
// An MNIST-format folder (the four IDX files) of `n` patterned side x side images.
void write_mnist_folder(const fs::path& dir, int n, int side) {
  fs::create_directories(dir);
  auto write_idx = [&](const char* name, std::vector<std::int32_t> dims, const std::vector<std::uint8_t>& data) {
    std::string bytes = {0, 0, 0x08, static_cast<char>(dims.size())};
    for (std::int32_t d : dims)
      for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((d >> shift) & 0xff));
    bytes.append(data.begin(), data.end());
    std::ofstream(dir / name, std::ios::binary) << bytes;
  };
  std::vector<std::uint8_t> images(static_cast<std::size_t>(n) * side * side), labels(n);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<std::uint8_t>((i * 7 + i / side * 3) % 256);
  for (int i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  for (const char* split : {"train", "t10k"}) {
    write_idx((std::string(split) + "-images-idx3-ubyte").c_str(), {n, side, side}, images);
    write_idx((std::string(split) + "-labels-idx1-ubyte").c_str(), {n}, labels);
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_F(Cli, TrainGanAndSampleRejectBadFlagsInOneLineWithStatusTwo) {
  for (const char* args : {"train gan --model vae", "train gan --loss wgan", "train gan --iters 0",
                           "train gan --iters 5 --epochs 1", "train gan --resume", "train gan extra",
                           "train gan --noise-dim x", "sample", "sample gan", "sample vae --checkpoint x",
                           "sample gan --checkpoint x --n 0"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const CliRun help = run_cli("train gan --help");
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--model", "--loss", "--iters", "--epochs", "--data", "--out", "--device", "--sample-every",
                           "--seed", "--resume", "--noise-dim"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}

TEST_F(Cli, TrainGanRunFolderResumesBitForBitAndSamples) {
  write_mnist_folder(path("data"), 48, 28);
  const std::string common = "train gan --data '" + path("data") + "' --batch-size 16 --sample-every 2 --device cpu ";
  const CliRun straight = run_cli(common + "--iters 4 --out '" + path("a") + "'");
  ASSERT_EQ(straight.status, 0) << straight.output;
  EXPECT_NE(straight.output.find("iter 4/4  D "), std::string::npos) << straight.output;
  for (const char* file : {"samples/iter_000000.png", "samples/iter_000002.png", "samples/iter_000004.png",
                           "last.safetensors", "state.safetensors", "loss.png", "losses.csv", "args.json"})
    EXPECT_TRUE(fs::exists(path("a") + "/" + file)) << file;

  const CliRun half = run_cli(common + "--iters 2 --out '" + path("b") + "'");
  ASSERT_EQ(half.status, 0) << half.output;
  const CliRun resumed = run_cli("train gan --resume --iters 4 --out '" + path("b") + "'");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed " + path("b") + " at iteration 2"), std::string::npos) << resumed.output;
  EXPECT_EQ(file_bytes(path("b") + "/losses.csv"), file_bytes(path("a") + "/losses.csv"));
  const SafetensorsFile a = read_safetensors(path("a") + "/last.safetensors");
  const SafetensorsFile b = read_safetensors(path("b") + "/last.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) EXPECT_EQ(b.tensors.at(name).to_vector(), t.to_vector()) << name;
  EXPECT_EQ(a.metadata.at("iteration"), "4");

  const CliRun sample = run_cli("sample gan --device cpu --n 10 --checkpoint '" + path("a") +
                                "/last.safetensors' --out '" + path("grid.png") + "'");
  ASSERT_EQ(sample.status, 0) << sample.output;
  EXPECT_TRUE(fs::exists(path("grid.png")));
}

TEST_F(Cli, TrainGanOnOtherImageSizesAndSampleOfAClassifierAreOneLineErrors) {
  write_mnist_folder(path("big"), 20, 32);
  const CliRun big = run_cli("train gan --device cpu --iters 1 --data '" + path("big") + "' --out '" + path("r") + "'");
  EXPECT_EQ(big.status, 1) << big.output;
  EXPECT_EQ(count_lines(big.output), 2) << big.output;  // "device: cpu", then the error
  EXPECT_NE(big.output.find("the GANs take grey 28x28 images, these are 1-channel 32x32"), std::string::npos)
      << big.output;

  auto convnet = build_model(ModelConfig::defaults("three_layer"), 0);
  save_checkpoint(path("convnet.safetensors"), *convnet, {{0.5f}, {0.5f}}, fashion_mnist_classes());
  const CliRun sample = run_cli("sample gan --device cpu --checkpoint '" + path("convnet.safetensors") + "'");
  EXPECT_EQ(sample.status, 1) << sample.output;
  EXPECT_EQ(count_lines(sample.output), 1) << sample.output;
  EXPECT_NE(sample.output.find("holds a 'three_layer' model; expected a GAN checkpoint"), std::string::npos)
      << sample.output;
}
