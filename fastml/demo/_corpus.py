"""A synthetic spam corpus whose spam vocabulary shifts over time (the demo's text data; not real mail).

Design: every message mixes common words, words of its own class and a few words of the other class (so
that the task is not trivially separable). Ham keeps one vocabulary throughout; spam switches campaigns:
batches from ``shift_batch`` on use a new spam vocabulary (crypto/account scams instead of prizes and
pills) with only a small share of the old spam words, so a model trained on early batches loses recall.
"""
import numpy as np

COMMON = ("the a to you and is for on this your we it in at of with be are have will can just "
          "please today now get from our all new time").split()
HAM = ("meeting lunch tomorrow project report thanks family weekend call dinner schedule notes review team "
       "photo birthday train office draft agenda slides coffee kids school garden recipe movie holiday "
       "budget invoice deadline minutes colleague doctor").split()
SPAM_EARLY = ("winner prize free claim cash offer pills discount lottery urgent click bonus cheap loan credit "
              "congratulations selected reward voucher gift deal limited exclusive guaranteed").split()
SPAM_LATE = ("crypto bitcoin wallet airdrop token nft invest returns blockchain mining giveaway verify account "
             "suspended login password security unlock profit trading coins exchange double").split()


def make_spam_corpus(n_batches=6, batch_size=400, *, spam_share=0.3, shift_batch=3, random_state=0):
    """Generate ``n_batches`` batches of synthetic ham/spam messages, oldest first.

    Parameters
    ----------
    n_batches : int, default=6
    batch_size : int, default=400
    spam_share : float, default=0.3
        Expected share of spam in each batch.
    shift_batch : int, default=3
        First batch whose spam uses the new vocabulary (``n_batches`` or more: no shift).
    random_state : int, default=0

    Returns
    -------
    pandas.DataFrame
        Columns ``text`` (str), ``label`` ("spam"/"ham"), ``is_spam`` (0/1) and ``batch`` (int).
    """
    import pandas as pd

    if n_batches < 1 or batch_size < 1:
        raise ValueError(f"n_batches and batch_size must be positive, got {n_batches} and {batch_size}")
    if not 0 < spam_share < 1:
        raise ValueError(f"spam_share must be in (0, 1), got {spam_share}")
    rng = np.random.default_rng(random_state)
    texts, labels, batches = [], [], []
    for batch in range(n_batches):
        shifted = batch >= shift_batch
        for _ in range(batch_size):
            spam = rng.random() < spam_share
            n_words = int(rng.integers(8, 20))
            # shares of (common, own class, other class) words; late spam keeps 20% of the old campaign
            kinds = rng.choice(3, size=n_words, p=(0.4, 0.48, 0.12))
            words = []
            for kind in kinds:
                if kind == 0:
                    pool = COMMON
                elif (kind == 1 and not spam) or (kind == 2 and spam):  # ham words
                    pool = HAM
                elif shifted and (not spam or rng.random() < 0.8):  # the new campaign's words
                    pool = SPAM_LATE
                else:
                    pool = SPAM_EARLY
                words.append(pool[int(rng.integers(len(pool)))])
            texts.append(" ".join(words))
            labels.append("spam" if spam else "ham")
            batches.append(batch)
    frame = pd.DataFrame({"text": texts, "label": labels, "batch": batches})
    frame["is_spam"] = (frame["label"] == "spam").astype(np.int64)
    return frame
