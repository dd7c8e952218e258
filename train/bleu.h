// Corpus BLEU (Papineni et al., 2002), as NLTK's corpus_bleu computes it: n-gram
// precisions clipped by the most any one reference holds, summed over the whole
// corpus before dividing; uniform weights over 1..N; brevity penalty from the
// total hypothesis length against, per sentence, the reference length closest to
// the hypothesis (the shorter on a tie). No smoothing: any zero precision gives 0.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cudl {

using Sentence = std::vector<std::string>;

struct BleuScore {
  std::array<double, 4> bleu{};       // BLEU-1..4: geometric mean of p_1..p_n times the brevity penalty
  std::array<double, 4> precision{};  // clipped n-gram precision p_n
  double brevity_penalty = 0.0;
  std::int64_t hypothesis_length = 0, reference_length = 0;
};

// hypotheses[i] is scored against every sentence of references[i]; the two
// lists must be equally long and each hypothesis needs at least one reference.
BleuScore corpus_bleu(const std::vector<Sentence>& hypotheses, const std::vector<std::vector<Sentence>>& references);

// Space-separated strings, split into words (what Vocabulary::decode returns).
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references);

}  // namespace cudl
