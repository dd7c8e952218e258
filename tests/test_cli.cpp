// The `cudl` binary itself: one-line errors for malformed files, a golden
// runner that really fails on a wrong case, and `cudl score` end to end.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "train/png.h"
#include "train/run_folder.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int status;
  std::string output;  // stdout and stderr
};

// `command` in a shell, with stderr folded into the output.
CliRun run_shell(const std::string& shell_command) {
  const std::string command = "{ " + shell_command + "; } 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int rc = pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

CliRun run_cli(const std::string& args) { return run_shell(std::string("'") + CUDL_CLI + "' " + args); }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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

// The element bound and the small-variance cases make eps visible: eps off by ten
// fails every one of them on every CPU implementation, as a 0.01% error in one
// element of an output fails a case whose L2 error stays within tol.
TEST_F(Cli, GoldenCasesCatchAnEpsOffByTenAndOneWrongElement) {
  for (const std::string source :
       {"batch_norm_train_4d_small_variance", "batch_norm_train_2d_small_variance", "layer_norm_small_variance",
        "group_norm_small_variance"})
    write_variant(source + ".safetensors", source + "_eps.safetensors",
                  [](SafetensorsFile& f) { f.metadata["eps"] = "1e-06"; });
  write_variant("linear_small.safetensors", "linear_one_element.safetensors", [](SafetensorsFile& f) {
    Tensor& out = f.tensors.at("out");
    float* largest = std::max_element(out.data<float>(), out.data<float>() + out.numel(),
                                      [](float a, float b) { return std::abs(a) < std::abs(b); });
    *largest *= 1.0001f;
  });
  const CliRun run = run_cli("golden '" + dir_.string() + "'");
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^FAIL  \\S+_eps +cpu_(naive|fast) "), 8) << run.output;
  EXPECT_EQ(count_matches(run.output, "^FAIL  linear_one_element +cpu_(naive|fast) .*out: element [0-9]+ is"), 2)
      << run.output;
  EXPECT_EQ(count_matches(run.output, "^PASS"), 0) << run.output;
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

TEST_F(Cli, InfoListsEachOpsVariantsFastestFirst) {
  const CliRun r = run_cli("info");
  ASSERT_EQ(r.status, 0) << r.output;
  // An op's line: its name, then its variants in table order.
  auto variants_of = [&](const std::string& op) {
    const std::size_t at = r.output.find("\n  " + op + " ");
    if (at == std::string::npos) return std::string();
    const std::size_t end = r.output.find('\n', at + 1);
    std::string line = r.output.substr(at + 3 + op.size(), end - at - 3 - op.size());
    return line.substr(line.find_first_not_of(' '));
  };
  EXPECT_TRUE(variants_of("scaled_dot_product_attention").starts_with("cpu_blas cpu_naive")) << r.output;
  EXPECT_TRUE(variants_of("conv2d").starts_with("cpu_fast cpu_naive")) << r.output;
  EXPECT_TRUE(variants_of("multi_head_attention").starts_with("cpu_fast cpu_naive")) << r.output;
  if (CUDL_WITH_CUDA && CUDL_WITH_CUDNN) EXPECT_NE(variants_of("conv2d").find("cudnn cuda_fast cuda_naive"), std::string::npos);
}

TEST_F(Cli, TrainAndEvalRejectBadFlagsInOneLineWithStatusTwo) {
  for (const char* args : {"train convnet --bogus", "train convnet --epochs 0", "train convnet --lr abc",
                           "train convnet --optimizer lbfgs", "train convnet --model resnet", "train convnet --impl cudnn", "train", "train mlp",
                           "train convnet --resume", "eval", "eval --checkpoint x --device tpu"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const CliRun help = run_cli("train --help");
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--model", "--device", "--epochs", "--batch-size", "--lr", "--optimizer", "--weight-decay",
                           "--seed", "--data", "--out", "--resume", "--subset", "--impl"})
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

// train gan --classifier scores its final generator; score --checkpoint of the
// saved generator with the same seed gives the same figures.
TEST_F(ScoreCli, TrainGanScoresItsGeneratorAsScoreOfItsCheckpointDoes) {
  const std::string train = "train gan --device cpu --iters 2 --batch-size 16 --data '" + path("data") + "'";
  const CliRun missing = run_cli(train + " --classifier '" + path("none.safetensors") + "' --out '" + path("bad") + "'");
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_NE(missing.output.find("none.safetensors"), std::string::npos) << missing.output;
  EXPECT_EQ(count_matches(missing.output, "^iter "), 0) << "fails before training\n" << missing.output;

  const CliRun run = run_cli(train + " --classifier '" + path("classifier.safetensors") +
                             "' --score-count 30 --out '" + path("gan") + "'");
  ASSERT_EQ(run.status, 0) << run.output;
  const std::string saved = file_bytes(path("gan") + "/score.txt");
  EXPECT_NE(run.output.find(saved), std::string::npos) << run.output << "\n---\n" << saved;
  const std::size_t report = saved.find("samples: 30\nFID (classifier features): ");
  ASSERT_NE(report, std::string::npos) << saved;

  const CliRun again = run_cli(common_ + " --count 30 --checkpoint '" + path("gan") + "/last.safetensors'");
  ASSERT_EQ(again.status, 0) << again.output;
  const std::size_t again_report = again.output.find("samples: 30\n");
  ASSERT_NE(again_report, std::string::npos) << again.output;
  EXPECT_EQ(again.output.substr(again_report), saved.substr(report));

  const CliRun wrong = run_cli(common_ + " --checkpoint '" + path("classifier.safetensors") + "'");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_EQ(count_lines(wrong.output), 1) << wrong.output;
  EXPECT_NE(wrong.output.find("expected a GAN checkpoint"), std::string::npos) << wrong.output;
}

// score --checkpoint of a train ddpm model: one report per guidance weight, the
// share of samples labelled as the class they asked for, a table and a plot.
TEST_F(ScoreCli, DdpmCheckpointScoresEachGuidanceWeight) {
  const CliRun trained = run_cli("train ddpm --device cpu --data-dir '" + path("data") + "' --width 8 --multipliers 1,2 "
                                 "--timesteps 20 --batch-size 4 --iters 2 --sample-every 0 --out '" + path("ddpm") + "'");
  ASSERT_EQ(trained.status, 0) << trained.output;
  const std::string ddpm = " --checkpoint '" + path("ddpm/checkpoint.safetensors") + "'";
  const CliRun run = run_cli(common_ + ddpm + " --count 20 --steps 2 --guidance 0,3 --plot '" + path("w.png") + "'");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(count_matches(run.output, "^samples: 20$"), 2) << run.output;
  EXPECT_EQ(count_matches(run.output, "^asked class: [0-9.]+% of the samples are labelled as the class they were asked "
                                      "for$"), 2) << run.output;
  EXPECT_EQ(count_matches(run.output, "^0\\.00 +[0-9.]+ +[0-9.]+ +[0-9.]+%$"), 1) << run.output;
  EXPECT_EQ(count_matches(run.output, "^3\\.00 +[0-9.]+ +[0-9.]+ +[0-9.]+%$"), 1) << run.output;
  EXPECT_TRUE(fs::exists(path("w.png")));
  // The same seed, the same samples: one weight alone reports what the sweep did.
  const CliRun alone = run_cli(common_ + ddpm + " --count 20 --steps 2 --guidance 3");
  ASSERT_EQ(alone.status, 0) << alone.output;
  const std::size_t at = alone.output.find("samples: 20\n");
  ASSERT_NE(at, std::string::npos) << alone.output;
  EXPECT_NE(run.output.find(alone.output.substr(at)), std::string::npos) << run.output << "\n---\n" << alone.output;

  const CliRun gan_flags = run_cli(common_ + " --samples x.npy --guidance 1");
  EXPECT_EQ(gan_flags.status, 1) << gan_flags.output;
  EXPECT_NE(gan_flags.output.find("apply to a ddpm --checkpoint only"), std::string::npos) << gan_flags.output;
}

TEST_F(ScoreCli, BadInputIsOneLineAndNonZeroExit) {
  for (const char* args : {"score", "score --samples x.npy", "score --classifier c --floor --samples x.npy",
                           "score --classifier c", "score --classifier c --floor --splits 0",
                           "score --classifier c --checkpoint g --samples x.npy", "score --classifier c --checkpoint g --count 1"}) {
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
  for (const char* flag : {"--classifier", "--samples", "--checkpoint", "--count", "--floor", "--floor-count", "--class", "--splits",
                           "--data"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}

// ---- hostile flags, shared run folders and diverging runs (issue #14) ----

namespace {

void write_random_idx(const std::string& path, const std::vector<std::uint32_t>& dims, std::uint64_t seed) {
  std::string bytes{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  std::uint64_t n = 1;
  for (std::uint32_t d : dims) {
    n *= d;
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>(d >> shift);
  }
  // Labels (1-D) are classes 0..9; images are any bytes.
  for (std::uint64_t i = 0; i < n; ++i) bytes += static_cast<char>(dims.size() == 1 ? (i * 7 + seed) % 10 : i * 31 + seed);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class CliTrain : public Cli {
 protected:
  // A tiny MNIST-format folder: `train` training and 20 test images of `side` (test: `test_side`) pixels.
  std::string tiny_data(std::uint32_t train = 64, std::uint32_t side = 8, std::uint32_t test_side = 8) {
    const std::string dir = path("data");
    fs::create_directories(dir);
    write_random_idx(dir + "/train-images-idx3-ubyte", {train, side, side}, 1);
    write_random_idx(dir + "/train-labels-idx1-ubyte", {train}, 2);
    write_random_idx(dir + "/t10k-images-idx3-ubyte", {20, test_side, test_side}, 3);
    write_random_idx(dir + "/t10k-labels-idx1-ubyte", {20}, 4);
    return dir;
  }
  CliRun train(const std::string& extra) {
    return run_cli("train fcnet --device cpu --hidden 8 --val 16 --batch-size 8 --data '" + tiny_data() + "' --out '" +
                   path("run") + "' " + extra);
  }
};

}  // namespace

TEST_F(CliTrain, HugeIntegerFlagsAreRangeErrors) {
  for (const char* flag : {"--batch-size 9223372036854775807", "--threads 3000000000", "--epochs 9223372036854775807",
                           "--epochs 99999999999999999999", "--hidden 8,99999999"}) {
    const CliRun r = run_cli(std::string("train fcnet ") + flag);
    EXPECT_EQ(r.status, 2) << flag << "\n" << r.output;
    EXPECT_NE(r.output.find("must be"), std::string::npos) << flag << "\n" << r.output;
  }
  const CliRun big_batch = train("--batch-size 1000");
  EXPECT_EQ(big_batch.status, 1) << big_batch.output;
  EXPECT_NE(big_batch.output.find("--batch-size 1000 is larger than the 48 training images"), std::string::npos)
      << big_batch.output;
}

TEST_F(CliTrain, DatasetProblemsAreNamedBeforeTraining) {
  const CliRun val = run_cli("train fcnet --device cpu --val 64 --data '" + tiny_data() + "' --out '" + path("run") + "'");
  EXPECT_EQ(val.status, 1) << val.output;
  EXPECT_NE(val.output.find("--val 64 leaves no training images"), std::string::npos) << val.output;

  const std::string data = tiny_data(64, 8, 6);
  const CliRun sizes = run_cli("train fcnet --device cpu --data '" + data + "' --out '" + path("run") + "'");
  EXPECT_EQ(sizes.status, 1) << sizes.output;
  EXPECT_NE(sizes.output.find("test images are 6x6 but the training images"), std::string::npos) << sizes.output;
  EXPECT_EQ(sizes.output.find("epoch 1/"), std::string::npos) << "failed before training: " << sizes.output;
}

TEST_F(CliTrain, NaiveAndFastImplsTrainTheSameModel) {
  // The epoch's loss as printed: "epoch 1/1  loss 2.3026 ...".
  auto epoch_loss = [](const CliRun& r) {
    const std::size_t at = r.output.find("epoch 1/1  loss ");
    EXPECT_NE(at, std::string::npos) << r.output;
    return at == std::string::npos ? -1.0 : std::stod(r.output.substr(at + 16));
  };
  const CliRun naive = run_cli("train fcnet --device cpu --hidden 8 --val 16 --batch-size 8 --epochs 1 --impl naive --data '" +
                               tiny_data() + "' --out '" + path("naive") + "'");
  ASSERT_EQ(naive.status, 0) << naive.output;
  EXPECT_NE(naive.output.find("impl: naive"), std::string::npos) << naive.output;
  const CliRun fast = run_cli("train fcnet --device cpu --hidden 8 --val 16 --batch-size 8 --epochs 1 --impl fast --data '" +
                              tiny_data() + "' --out '" + path("fast") + "'");
  ASSERT_EQ(fast.status, 0) << fast.output;
  EXPECT_NEAR(epoch_loss(naive), epoch_loss(fast), 1e-3);
}

TEST_F(CliTrain, SecondRunOnALockedFolderIsRefused) {
  const RunFolderLock held(path("run"));  // as a live `cudl train` would hold it
  const CliRun second = train("--epochs 1");
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find("is in use by another cudl process (pid " + std::to_string(::getpid())),
            std::string::npos)
      << second.output;
  EXPECT_FALSE(fs::exists(path("run") + "/args.json")) << "nothing written";
}

TEST_F(CliTrain, StaleLockAndTemporariesOfADeadRunAreTakenOver) {
  fs::create_directories(path("run"));
  std::ofstream(path("run") + "/lock") << "99999999";
  std::ofstream(path("run") + "/last.safetensors.tmp.99999999") << "partial";
  const CliRun r = train("--epochs 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(path("run") + "/last.safetensors.tmp.99999999"));
}

TEST_F(CliTrain, DivergingRunStopsAtTheFirstNonFiniteStepAndKeepsTheLastSave) {
  const CliRun r = train("--lr 1e30 --optimizer sgd --epochs 3 --save-every 1");
  EXPECT_EQ(r.status, 1) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("training diverged at step ([0-9]+) \\(epoch 1\\): the (loss|gradient)")))
      << r.output;
  const int step = std::stoi(m[1].str());
  EXPECT_EQ(r.output.find("train acc"), std::string::npos) << "no epoch finished: " << r.output;
  // The first step (from finite parameters) is finite; --save-every 1 saved it.
  ASSERT_GT(step, 1) << r.output;
  EXPECT_NE(r.output.find("state.safetensors keeps step " + std::to_string(step - 1)), std::string::npos) << r.output;
  const auto state = read_safetensors(path("run") + "/state.safetensors");
  EXPECT_NE(state.metadata.at("cudl_training_state").find("\"step\":" + std::to_string(step - 1)), std::string::npos);

  const CliRun skipping = train("--lr 1e30 --optimizer sgd --epochs 1 --skip-nonfinite");
  EXPECT_EQ(skipping.status, 0) << skipping.output;
  EXPECT_NE(skipping.output.find("steps with a non-finite loss or gradient"), std::string::npos) << skipping.output;
}

TEST_F(CliTrain, KilledMidEpochResumesFromThePeriodicState) {
  const CliRun first = train("--epochs 2 --max-steps 3 --save-every 2");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(fs::exists(path("run") + "/args.json"));
  EXPECT_FALSE(fs::exists(path("run") + "/metrics.csv")) << "no epoch finished";
  const CliRun resumed = run_cli("train fcnet --resume --out '" + path("run") + "'");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed"), std::string::npos) << resumed.output;
}

TEST_F(CliTrain, ResumeFromAnotherFolderFindsRelativeData) {
  tiny_data();
  const CliRun first = run_shell("cd '" + dir_.string() + "' && '" + std::string(CUDL_CLI) +
                               "' train fcnet --device cpu --hidden 8 --val 16 --batch-size 8 --data data --out run --max-steps 2");
  ASSERT_EQ(first.status, 0) << first.output;
  const CliRun resumed = run_cli("train fcnet --resume --out '" + path("run") + "'");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
}

TEST_F(CliTrain, ResumeRejectsAnInconsistentState) {
  ASSERT_EQ(train("--epochs 2 --max-steps 3").status, 0);
  const std::string state = path("run") + "/state.safetensors";
  SafetensorsFile file = read_safetensors(state);
  std::string& meta = file.metadata.at("cudl_training_state");
  meta = std::regex_replace(meta, std::regex("\"epoch\":0"), "\"epoch\":-5");
  write_safetensors(state, file.tensors, file.metadata);
  const CliRun resumed = run_cli("train fcnet --resume --out '" + path("run") + "'");
  EXPECT_EQ(resumed.status, 1) << resumed.output;
  EXPECT_NE(resumed.output.find("'epoch' is -5, expected 0 to 2"), std::string::npos) << resumed.output;

  meta = std::regex_replace(meta, std::regex("\"epoch\":-5"), "\"epoch\":0");
  meta = std::regex_replace(meta, std::regex("\"generator_seed\":\"[0-9]+\""), "\"generator_seed\":\"x1\"");
  write_safetensors(state, file.tensors, file.metadata);
  const CliRun bad_seed = run_cli("train fcnet --resume --out '" + path("run") + "'");
  EXPECT_NE(bad_seed.output.find("'generator_seed' is not a decimal string"), std::string::npos) << bad_seed.output;

  std::ofstream(path("run") + "/args.json") << "[\"fcnet\", ";
  const CliRun bad_args = run_cli("train fcnet --resume --out '" + path("run") + "'");
  EXPECT_EQ(bad_args.status, 1) << bad_args.output;
  EXPECT_NE(bad_args.output.find("args.json: not valid JSON"), std::string::npos) << bad_args.output;
}

TEST_F(Cli, GoldenRejectsANanTolerance) {
  write_variant("linear_small.safetensors", "nan_tol.safetensors",
                [](SafetensorsFile& f) { f.metadata["tol"] = "nan"; });
  const CliRun r = run_cli("golden '" + path("nan_tol.safetensors") + "'");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("tol must be a positive finite number, got 'nan'"), std::string::npos) << r.output;
}

// ---- cudl train gan / cudl sample gan ----

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

  {
    const RunFolderLock held(path("a"));  // as a live run would hold it
    const CliRun second = run_cli(common + "--iters 4 --out '" + path("a") + "'");
    EXPECT_EQ(second.status, 1) << second.output;
    EXPECT_NE(second.output.find("is in use by another cudl process"), std::string::npos) << second.output;
  }
  EXPECT_EQ(file_bytes(path("a") + "/losses.csv"), file_bytes(path("b") + "/losses.csv")) << "left alone";

  const CliRun sample = run_cli("sample gan --device cpu --n 10 --checkpoint '" + path("a") +
                                "/last.safetensors' --out '" + path("grid.png") + "'");
  ASSERT_EQ(sample.status, 0) << sample.output;
  EXPECT_TRUE(fs::exists(path("grid.png")));
}

TEST_F(Cli, TrainGanStopsAtTheFirstNonFiniteStepAndKeepsTheLastSave) {
  write_mnist_folder(path("data"), 48, 28);
  const CliRun r = run_cli("train gan --data '" + path("data") + "' --batch-size 16 --sample-every 1 --device cpu " +
                           "--lr 1e30 --iters 50 --out '" + path("run") + "'");
  EXPECT_EQ(r.status, 1) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("iteration ([0-9]+), the (discriminator|generator) step: "
                                                        ".*; \\S+state.safetensors keeps iteration ([0-9]+)")))
      << r.output;
  const int failed = std::stoi(m[1].str()), kept = std::stoi(m[3].str());
  EXPECT_LT(failed, 50) << r.output;
  EXPECT_EQ(kept, failed - 1) << "--sample-every 1 saved the step before\n" << r.output;
  EXPECT_EQ(read_safetensors(path("run") + "/last.safetensors").metadata.at("iteration"), std::to_string(kept));
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

// cudl train captioner and cudl caption end to end, on scenes made from a tiny
// MNIST-format folder (so the test needs neither Fashion-MNIST nor the emoji font).
class CaptionerCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    fs::create_directories(path("items"));
    for (const auto& [split, n] : {std::pair{"train", 60}, std::pair{"t10k", 40}}) {
      std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n) * 28 * 28), labels(n);
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 13 + i / 784 * 29) % 256);
      for (int i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
      write_idx(path("items") + "/" + split + "-images-idx3-ubyte", {n, 28, 28}, pixels);
      write_idx(path("items") + "/" + split + "-labels-idx1-ubyte", {n}, labels);
    }
    common_ = "train captioner --data scenes --fashion-mnist '" + path("items") +
              "' --scenes 40 --width 16 --heads 2 --layers 1 --feedforward 16 --encoder 4 --eval-images 8 --grid 4 "
              "--batch-size 8 --device cpu --out '" + path("run") + "'";
  }
  std::string common_;
};

TEST_F(CaptionerCli, TrainsScoresSavesResumesAndCaptions) {
  const CliRun run = run_cli(common_ + " --iters 6 --eval-every 3");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("iter 3: greedy captions"), std::string::npos) << run.output;
  EXPECT_EQ(count_matches(run.output, "^  val +BLEU-1 [0-9.]+  BLEU-2 [0-9.]+  BLEU-3 [0-9.]+  BLEU-4 [0-9.]+  exact"), 2)
      << run.output;
  for (const char* file : {"checkpoint.safetensors", "state.safetensors", "metrics.csv", "bleu.png", "loss.png",
                           "args.json", "captions/val_iter_000003.png", "captions/val_iter_000006.png"})
    EXPECT_TRUE(fs::exists(path("run") + "/" + file)) << file;
  std::ifstream metrics(path("run") + "/metrics.csv");
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(metrics), std::istreambuf_iterator<char>(), '\n'), 3);

  // --resume continues from the saved iteration with the saved settings.
  const CliRun resumed = run_cli("train captioner --resume --out '" + path("run") + "' --iters 8");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed " + path("run") + " at iteration 6"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("trained 2 steps"), std::string::npos) << resumed.output;

  // cudl caption: one line per image; another size or another kind of checkpoint is a one-line error.
  std::vector<std::uint8_t> grey(56 * 56, 200), small(28 * 28, 200);
  write_png(path("scene.png"), 56, 56, 1, grey.data());
  write_png(path("small.png"), 28, 28, 1, small.data());
  const std::string checkpoint = " --checkpoint '" + path("run") + "/checkpoint.safetensors' ";
  const CliRun caption = run_cli("caption" + checkpoint + "'" + path("scene.png") + "' '" + path("scene.png") + "'");
  ASSERT_EQ(caption.status, 0) << caption.output;
  EXPECT_EQ(count_matches(caption.output, "^.*scene\\.png: [a-z -]*$"), 2) << caption.output;
  const CliRun beam = run_cli("caption --beam 3" + checkpoint + "'" + path("scene.png") + "'");
  EXPECT_EQ(beam.status, 0) << beam.output;
  // --logits: what scripts/torch_captioner.py compares. Each fed-back word is the
  // argmax of the scores one position earlier (greedy), until <END>.
  const CliRun logits = run_cli("caption --logits '" + path("logits.safetensors") + "'" + checkpoint + "'" +
                                path("scene.png") + "' '" + path("scene.png") + "'");
  ASSERT_EQ(logits.status, 0) << logits.output;
  const SafetensorsFile dump = read_safetensors(path("logits.safetensors"));
  EXPECT_EQ(dump.tensors.at("images").shape(), (Shape{2, 1, 56, 56}));
  const Tensor& fed = dump.tensors.at("captions");
  const Tensor& scores = dump.tensors.at("scores");
  ASSERT_EQ(fed.shape(), (Shape{2, 16}));
  ASSERT_EQ(scores.dim(), 3);
  ASSERT_EQ(Shape(scores.shape().begin(), scores.shape().begin() + 2), (Shape{2, 16}));
  const std::int64_t vocab = scores.size(2);
  const std::vector<std::int64_t> ids = fed.to_vector_i64();
  const std::vector<float> values = scores.to_vector();
  EXPECT_EQ(ids[0], 1);  // <START>
  for (std::int64_t t = 1; t < 16 && ids[t - 1] != 2; ++t) {
    const float* row = values.data() + (t - 1) * vocab;
    EXPECT_EQ(std::max_element(row, row + vocab) - row, ids[t]) << "position " << t;
  }
  const CliRun wrong = run_cli("caption" + checkpoint + "'" + path("small.png") + "'");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_EQ(count_lines(wrong.output), 1) << wrong.output;
  EXPECT_NE(wrong.output.find("small.png"), std::string::npos) << wrong.output;
  const CliRun other = run_cli("caption --checkpoint '" + path("run") + "/args.json' '" + path("scene.png") + "'");
  EXPECT_EQ(other.status, 1) << other.output;
  EXPECT_EQ(count_lines(other.output), 1) << other.output;
}

TEST_F(CaptionerCli, BadFlagsAndDataAreOneLineErrors) {
  for (const char* args : {"train captioner --data flickr", "train captioner --heads 3 --width 16",
                           "train captioner --iters 0", "caption", "caption --checkpoint x.safetensors"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const CliRun coco = run_cli("train captioner --data 'coco:" + path("nowhere") + "' --out '" + path("c") + "'");
  EXPECT_EQ(coco.status, 1) << coco.output;
  EXPECT_EQ(count_lines(coco.output), 1) << coco.output;
  // Two runs on one folder: the second is refused while the first holds the lock.
  const RunFolderLock held(path("run"));
  const CliRun locked = run_cli(common_ + " --iters 2");
  EXPECT_EQ(locked.status, 1) << locked.output;
  EXPECT_NE(locked.output.find("lock"), std::string::npos) << locked.output;
}
