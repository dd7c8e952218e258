#include "train/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "core/error.h"

namespace cudl {

namespace {

using NgramCounts = std::map<std::vector<std::string>, std::int64_t>;

NgramCounts ngrams(const Sentence& s, std::size_t n) {
  NgramCounts counts;
  for (std::size_t i = 0; i + n <= s.size(); ++i) ++counts[Sentence(s.begin() + i, s.begin() + i + n)];
  return counts;
}

Sentence split_words(const std::string& s) {
  std::istringstream in(s);
  Sentence words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

BleuScore corpus_bleu(const std::vector<Sentence>& hypotheses, const std::vector<std::vector<Sentence>>& references) {
  CUDL_CHECK(hypotheses.size() == references.size(), "corpus_bleu: ", hypotheses.size(), " hypotheses but ",
             references.size(), " reference lists");
  std::array<std::int64_t, 4> matched{}, total{};
  BleuScore score;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const Sentence& hyp = hypotheses[i];
    const auto& refs = references[i];
    CUDL_CHECK(!refs.empty(), "corpus_bleu: hypothesis ", i, " has no reference");
    for (std::size_t n = 1; n <= 4; ++n) {
      // Each n-gram counts at most as often as the reference that holds it most.
      NgramCounts most;
      for (const Sentence& ref : refs)
        for (const auto& [gram, count] : ngrams(ref, n)) most[gram] = std::max(most[gram], count);
      for (const auto& [gram, count] : ngrams(hyp, n)) {
        const auto it = most.find(gram);
        matched[n - 1] += std::min(count, it == most.end() ? 0 : it->second);
      }
      total[n - 1] += static_cast<std::int64_t>(hyp.size() >= n ? hyp.size() - n + 1 : 0);
    }
    const std::int64_t h = static_cast<std::int64_t>(hyp.size());
    std::int64_t closest = static_cast<std::int64_t>(refs[0].size());
    for (const Sentence& ref : refs) {
      const std::int64_t r = static_cast<std::int64_t>(ref.size());
      if (std::abs(r - h) < std::abs(closest - h) || (std::abs(r - h) == std::abs(closest - h) && r < closest)) closest = r;
    }
    score.hypothesis_length += h;
    score.reference_length += closest;
  }
  const double c = static_cast<double>(score.hypothesis_length), r = static_cast<double>(score.reference_length);
  score.brevity_penalty = c > r ? 1.0 : c == 0.0 ? 0.0 : std::exp(1.0 - r / c);
  double log_sum = 0.0;
  bool any_zero = false;
  for (std::size_t n = 0; n < 4; ++n) {
    score.precision[n] = total[n] > 0 ? static_cast<double>(matched[n]) / static_cast<double>(total[n]) : 0.0;
    any_zero = any_zero || score.precision[n] == 0.0;
    if (!any_zero) log_sum += std::log(score.precision[n]);
    score.bleu[n] = any_zero ? 0.0 : score.brevity_penalty * std::exp(log_sum / static_cast<double>(n + 1));
  }
  return score;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references) {
  std::vector<Sentence> hyps;
  std::vector<std::vector<Sentence>> refs;
  for (const std::string& h : hypotheses) hyps.push_back(split_words(h));
  for (const auto& list : references) {
    refs.emplace_back();
    for (const std::string& r : list) refs.back().push_back(split_words(r));
  }
  return corpus_bleu(hyps, refs);
}

}  // namespace cudl
