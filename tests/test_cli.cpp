// The `cudl` binary itself: one-line errors for malformed files, a golden
// runner that really fails on a wrong case, and `cudl score` end to end.
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

#include "core/formats/idx.h"
#include "core/formats/npy.h"
#include "core/formats/safetensors.h"
#include "data/dataset.h"
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

// An uncompressed IDX file: magic 0x0000080<dims>, big-endian sizes, then bytes.
void write_idx(const std::string& file, const std::vector<std::int32_t>& dims, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  const auto put32 = [&](std::uint32_t v) {
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.write(b, 4);
  };
  put32(0x800u | static_cast<std::uint32_t>(dims.size()));
  for (std::int32_t d : dims) put32(static_cast<std::uint32_t>(d));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST_F(Cli, CaptionsReportsBadArgumentsAndMissingFilesInOneLine) {
  for (const char* args : {"captions", "captions flickr", "captions coco", "captions emoji extra", "captions emoji --count 0"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const CliRun coco = run_cli("captions coco '" + dir_.string() + "'");
  EXPECT_EQ(coco.status, 1) << coco.output;
  EXPECT_EQ(count_lines(coco.output), 1) << coco.output;
  EXPECT_NE(coco.output.find("coco2014_vocab.json"), std::string::npos) << coco.output;
  const CliRun scenes = run_cli("captions scenes --fashion-mnist '" + dir_.string() + "'");
  EXPECT_EQ(scenes.status, 1) << scenes.output;
  EXPECT_NE(scenes.output.find("scripts/setup.sh"), std::string::npos) << scenes.output;
}

}  // namespace

// cudl score on a tiny MNIST-format folder and an untrained small `deep` classifier.
class ScoreCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    fs::create_directories(path("data"));
    for (const auto& [split, n] : {std::pair{"train", 60}, std::pair{"t10k", 50}}) {
      std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n) * 28 * 28), labels(n);
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37 + n) % 251);
      for (int i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
      write_idx(path("data") + "/" + split + "-images-idx3-ubyte", {n, 28, 28}, pixels);
      write_idx(path("data") + "/" + split + "-labels-idx1-ubyte", {n}, labels);
    }
    ModelConfig config = ModelConfig::defaults("deep");
    config.channels = {4};
    config.convs_per_stage = 1;
    config.hidden = {16};
    Model model(config, 5);
    save_checkpoint(path("classifier.safetensors"), model, Normalization{{0.5f}, {0.25f}}, fashion_mnist_classes());
    common_ = "score --device cpu --classifier '" + path("classifier.safetensors") + "' --data '" + path("data") + "'";
  }
  std::string common_;
};

TEST_F(ScoreCli, TheTestImagesThemselvesScoreZeroFid) {
  // The reference set as samples: the same features, so the same statistics.
  write_npy(path("samples.npy"), read_idx(path("data") + "/t10k-images-idx3-ubyte"));
  const CliRun run = run_cli(common_ + " --class 3 --splits 5 --samples '" + path("samples.npy") + "'");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("reference: 50 real test images, 16 features"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("samples: 50\nFID (classifier features): 0.0000 "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("IS (classifier probabilities): "), std::string::npos) << run.output;
  EXPECT_EQ(count_matches(run.output, "^  [ 0-9]{2} .* +[0-9]+ +[0-9.]+%$"), 10) << "one line per class\n" << run.output;
  EXPECT_NE(run.output.find("class 3 (Dress): "), std::string::npos) << run.output;
}

TEST_F(ScoreCli, FloorScoresTrainingImages) {
  const CliRun run = run_cli(common_ + " --floor --floor-count 40");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("scoring: the first 40 real training images"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("samples: 40\n"), std::string::npos) << run.output;
  EXPECT_EQ(count_matches(run.output, "FID \\(classifier features\\): 0\\.0000 "), 0) << "other images\n" << run.output;
}

TEST_F(ScoreCli, BadInputIsOneLineAndNonZeroExit) {
  for (const char* args : {"score", "score --samples x.npy", "score --classifier c --floor --samples x.npy",
                           "score --classifier c", "score --classifier c --floor --splits 0"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  write_npy(path("rgb.npy"), Tensor::zeros({4, 3, 28, 28}));
  const std::string missing = path("missing.safetensors");
  for (const auto& [args, expected] :
       {std::pair{common_ + " --samples '" + path("rgb.npy") + "'", std::string("rgb.npy holds float32 [4,3,28,28]")},
        std::pair{common_ + " --samples '" + path("nowhere") + "'", std::string("neither a .npy file nor a folder")},
        std::pair{common_ + " --floor --floor-count 61", std::string("exceeds the 60 training images")},
        std::pair{common_ + " --floor --class 10", std::string("--class 10 is outside")},
        std::pair{"score --floor --classifier '" + missing + "'", missing}}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << args << "\n" << r.output;
  }
  const CliRun help = run_cli("score --help");
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--classifier", "--samples", "--floor", "--floor-count", "--class", "--splits", "--data"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}
