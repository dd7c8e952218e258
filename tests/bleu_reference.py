#!/usr/bin/env python3
"""Reference BLEU values for tests/test_bleu.cpp, computed once with NLTK's
corpus_bleu (pip install nltk; printed values pasted into the test).

Run: python3 tests/bleu_reference.py

Where a precision is zero NLTK (no smoothing) returns a tiny positive number
(sys.float_info.min ** weight) with a warning; cudl returns exactly 0.
"""
import warnings

import nltk
from nltk.translate.bleu_score import corpus_bleu

# Each case: (hypotheses, references per hypothesis), sentences as space-separated words.
CASES = {
    "captions": (
        ["a man riding a horse on a beach", "a plate of food with broccoli", "two dogs play in the snow"],
        [["a man rides a horse along the beach", "a person riding a horse on the sand"],
         ["a plate with broccoli and rice", "a white plate of food with broccoli on it"],
         ["two dogs playing in the snow", "dogs play together in deep snow"]],
    ),
    # Hypotheses shorter than their closest references: the brevity penalty bites.
    "short": (
        ["a cat", "the red bus on the street"],
        [["a cat sitting on a mat", "a small cat"], ["a red bus driving down the city street"]],
    ),
    # Repeated words: clipping to the most any one reference holds.
    "clipped": (
        ["the the the the the the the", "grinning face with big eyes"],
        [["the cat is on the mat", "there is a cat on the mat"], ["grinning face with big eyes"]],
    ),
}

warnings.simplefilter("ignore")
print(f"nltk {nltk.__version__}")
for name, (hyps, refs) in CASES.items():
    h = [s.split() for s in hyps]
    r = [[s.split() for s in rs] for rs in refs]
    scores = [corpus_bleu(r, h, weights=tuple([1.0 / n] * n)) for n in range(1, 5)]
    print(name, ", ".join(f"{s:.15g}" for s in scores))
