"""Bad-input audit of companion's concept modules (issue 16; ../shared/reviews/bad-inputs.md, by class).

    .venv/bin/python scripts/audit/bad_inputs_concepts.py [-v]      # from the repository root

Each case: (module.function, class, argument that the error must name, thunk).
Outcome: CLEAR (TypeError/ValueError/LookupError... naming the argument), UNCLEAR (an error that
does not name it), SILENT (no error), OOM (MemoryError or > 1 GiB more peak RSS).
"""
import math, os, resource, sys, warnings, collections
sys.path.insert(0, os.getcwd())  # the companion of the directory it is run from (not the installed one)
import numpy as np, torch
from torch import nn
warnings.filterwarnings("ignore")
torch.manual_seed(0)
from companion import (masking, adapters, augmentation, ensembles, compression, metrics, schedulers,
                       transformer, preprocessing, translation, exercises, forgetting, llm, models)
from transformers import BertConfig, BertForSequenceClassification, AutoTokenizer

NAN, INF = math.nan, math.inf
ids = torch.tensor([2, 10, 11, 12, 3]); ids2 = ids[None]
MK = dict(mask_token_id=4, vocab_size=2000)
SP = dict(special_ids=[2, 3])
def bert():
    return BertForSequenceClassification(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32, num_labels=2)).eval()
BERT = bert()
try:
    TOK = AutoTokenizer.from_pretrained(models.minilm_path())
except Exception as e:  # noqa
    TOK = None
LLM, LTOK = llm.load_causal_lm("tiny-random-llama", device="cpu")
CONV = [[{"role": "user", "content": "hi"}]]
cfg = transformer.TransformerConfig()
S2S = transformer.Seq2SeqTransformer(cfg)
src, _ = transformer.reversal_batch(2, generator=torch.Generator().manual_seed(0))
A = np.zeros((3, 2)); B = np.ones((3, 2))
LCFG = dict(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)

cases = []
def case(fn, cls, arg, thunk):
    cases.append((fn, cls, arg, thunk))

# ---- review reproducers (today's names)
case("masking.mlm_mask", "ids out of vocab", "input_ids", lambda: masking.mlm_mask(torch.tensor([[2, -5, 99999, 3]]), special_ids=[2, 3], mlm_probability=1.0, **MK))
case("augmentation.token_noise", "ids out of vocab", "mask_token_id", lambda: augmentation.token_noise(ids2, mask_token_id=-7, vocab_size=100, special_ids=[0, 2, 3], mask_prob=1.0))
case("masking.whole_word_mask", "word ids float", "word_ids", lambda: masking.whole_word_mask(ids, [None, 0, 1.7, 1, None], **MK))
case("masking.whole_word_mask", "word ids negative", "word_ids", lambda: masking.whole_word_mask(ids, [None, -5, 1, 1, None], **MK))
case("adapters.lora_for_sequence_classification", "non-finite float", "lora_alpha", lambda: adapters.lora_for_sequence_classification(bert(), lora_alpha=INF))
case("adapters.LoRALinear", "zero float", "lora_alpha", lambda: adapters.LoRALinear(nn.Linear(4, 4), lora_alpha=0))
case("adapters.LoRALinear", "NaN", "lora_alpha", lambda: adapters.LoRALinear(nn.Linear(4, 4), lora_alpha=NAN))
case("adapters.inject_lora", "negative float", "lora_alpha", lambda: adapters.inject_lora(bert(), r=4, lora_alpha=-16))
for w in ([NAN, 1], [INF, 1], ["a", "b"], [True, 1], [-1, 2], [0, 0], ["1", "1"]):
    case("ensembles.average_logits", "bad weights", "weights", lambda w=w: ensembles.average_logits([A, B], weights=w))
case("ensembles.FGM", "NaN", "epsilon", lambda: ensembles.FGM(BERT, NAN))
case("compression.distillation_loss", "NaN", "temperature", lambda: compression.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), NAN))
case("ensembles.weighted_vote", "zero count", "num_classes", lambda: ensembles.weighted_vote([np.array([0, 1])], num_classes=0))
case("ensembles.weighted_vote", "negative count", "num_classes", lambda: ensembles.weighted_vote([np.array([0, 1])], num_classes=-1))
case("ensembles.weighted_vote", "label out of range", "predictions", lambda: ensembles.weighted_vote([np.array([0, 3])], num_classes=2))
case("transformer.greedy_decode", "negative count", "max_new_tokens", lambda: transformer.greedy_decode(S2S, src, -1))
case("translation.length_bucket", "bare string", "texts", lambda: translation.length_bucket("one two three"))
case("translation.length_bucket", "None", "texts", lambda: translation.length_bucket(None))
case("metrics.bleu_signature", "bool for int", "nrefs", lambda: metrics.bleu_signature(nrefs=True))
case("preprocessing.shingles", "bool for int", "n", lambda: preprocessing.shingles("a b c", True))
case("masking.mlm_mask", "bool for int", "vocab_size", lambda: masking.mlm_mask(ids, mask_token_id=4, vocab_size=True, **SP))
case("masking.sample_span_lengths", "bool for int", "n", lambda: masking.sample_span_lengths(True))
case("masking.random_patch_masking", "bool for int", "batch_size", lambda: masking.random_patch_masking(True, 16))
case("masking.mlm_mask", "strings as ids", "input_ids", lambda: masking.mlm_mask(["a", "b"], **MK, **SP))
case("adapters.LoRALinear", "numeric string", "lora_alpha", lambda: adapters.LoRALinear(nn.Linear(4, 4), lora_alpha="16"))
case("schedulers.suggest_lr", "numeric string", "smoothing", lambda: schedulers.suggest_lr(np.geomspace(1e-5, 1, 10), np.ones(10), smoothing="0.9"))
case("compression.sparse_state_dict", "numeric string", "min_sparsity", lambda: compression.sparse_state_dict(bert(), "0.5"))
case("preprocessing.clean_corpus", "numeric string", "max_duplicate_ngram_fraction", lambda: preprocessing.clean_corpus(["a b c"], max_duplicate_ngram_fraction="0.2"))
case("metrics.perplexity", "numeric string", "token_nll", lambda: metrics.perplexity(["1.0", "abc"]))
case("metrics.perplexity_from_sum", "string", "nll_sum", lambda: metrics.perplexity_from_sum("abc", 10))
case("masking.whole_word_mask", "word ids as tensor", "word_ids", lambda: masking.whole_word_mask(ids2[0], torch.tensor([-1, 0, 1, 1, -1]), **MK))
case("masking.whole_word_mask", "word id string", "word_ids", lambda: masking.whole_word_mask(ids, [None, "a", 1, 1, None], **MK))
case("masking.wordpiece_word_ids", "None", "tokens", lambda: masking.wordpiece_word_ids(None))
case("masking.span_mask", "zero prob", "geometric_p", lambda: masking.span_mask(ids, geometric_p=0, **MK, **SP))
if TOK is not None:
    case("masking.MLMCollator", "empty", "examples", lambda: masking.MLMCollator(TOK)([]))
    case("masking.MLMCollator", "ids out of vocab", "input_ids", lambda: masking.MLMCollator(TOK)([{"input_ids": [101, 10**9, 102]}]))
    case("masking.MLMCollator", "bool for prob", "mlm_probability", lambda: masking.MLMCollator(TOK, mlm_probability=True))
case("metrics.corpus_bleu_by_group", "unhashable group", "groups", lambda: metrics.corpus_bleu_by_group(["a", "b"], ["a", "b"], [[1], [2]]))
case("preprocessing.clean_corpus", "empty", "texts", lambda: preprocessing.clean_corpus([]))
case("augmentation.neftune_noise", "NaN", "alpha", lambda: augmentation.neftune_noise(torch.zeros(1, 2, 3), NAN))
case("augmentation.neftune_noise", "inf", "alpha", lambda: augmentation.neftune_noise(torch.zeros(1, 2, 3), INF))
case("adapters.add_houlsby_adapters", "not a BERT", "model", lambda: adapters.add_houlsby_adapters(nn.Linear(4, 4)))
case("metrics.token_nll", "label out of range", "labels", lambda: metrics.token_nll(torch.zeros(1, 3, 4), torch.tensor([[0, 9, 1]])))
case("transformer.Seq2SeqTransformer", "id out of vocab", "src", lambda: S2S(torch.tensor([[3, 99]]), torch.tensor([[1, 3]])))
case("masking.whole_word_mask", "huge word id (OOM)", "word_ids", lambda: masking.whole_word_mask(ids, [None, 0, 10**9, 1, None], **MK))
case("masking.apply_replacement", "huge group id (OOM)", "groups", lambda: masking.apply_replacement(ids, torch.ones(5, dtype=torch.bool), groups=[0, 0, 10**9, 1, 1], **MK))

# ---- more inputs per class: counts (bool / float / string / negative / zero / None)
BAD_COUNTS = [True, 2.0, "3", -1, 0, None, NAN]
def counts(fn, arg, call, bad=BAD_COUNTS):
    for v in bad:
        case(fn, f"bad count {v!r}", arg, lambda v=v: call(v))
counts("masking.sample_span_lengths", "max_span", lambda v: masking.sample_span_lengths(3, max_span=v))
counts("masking.span_mask", "max_span", lambda v: masking.span_mask(ids, max_span=v, **MK, **SP))
counts("masking.patchify", "patch_size", lambda v: masking.patchify(torch.zeros(1, 3, 4, 4), v))
counts("masking.unpatchify", "height", lambda v: masking.unpatchify(torch.zeros(1, 4, 12), 2, v, 4))
counts("masking.random_patch_masking", "num_patches", lambda v: masking.random_patch_masking(2, v))
counts("masking.mlm_mask", "vocab_size", lambda v: masking.mlm_mask(ids, mask_token_id=4, vocab_size=v, **SP))
counts("adapters.lora_parameter_count", "r", lambda v: adapters.lora_parameter_count(768, 768, v, 12))
counts("adapters.HoulsbyAdapter", "bottleneck", lambda v: adapters.HoulsbyAdapter(8, v))
counts("adapters.houlsby_parameter_count", "num_layers", lambda v: adapters.houlsby_parameter_count(8, 2, v))
counts("adapters.LoRALinear", "r", lambda v: adapters.LoRALinear(nn.Linear(4, 4), r=v))
counts("adapters.prompt_tuning_for_sequence_classification", "num_virtual_tokens", lambda v: adapters.prompt_tuning_for_sequence_classification(bert(), v))
counts("augmentation.random_swap", "n", lambda v: augmentation.random_swap(["a", "b"], v, 0), [True, 2.0, "3", -1, None])
counts("augmentation.random_insertion", "n", lambda v: augmentation.random_insertion(["a", "b"], v, 0), [True, 2.0, "3", -1, None])
counts("augmentation.random_swap", "rng", lambda v: augmentation.random_swap(["a", "b"], 1, v), [True, 2.0, "3", -1, None])
counts("augmentation.back_translate", "batch_size", lambda v: augmentation.back_translate(["a"], (None, None), (None, None), batch_size=v))
counts("ensembles.weighted_vote", "num_classes", lambda v: ensembles.weighted_vote([np.array([0, 1])], num_classes=v), [True, 2.0, "3", -1, 0, NAN])
counts("compression.latency_ms", "repeats", lambda v: compression.latency_ms(bert(), [], None, repeats=v))
counts("metrics.perplexity_from_sum", "n_tokens", lambda v: metrics.perplexity_from_sum(3.0, v))
counts("metrics.chrf_signature", "nrefs", lambda v: metrics.chrf_signature(nrefs=v))
counts("schedulers.step_decay", "step_size", lambda v: schedulers.step_decay(0.1, v))
counts("schedulers.linear_with_warmup", "total_steps", lambda v: schedulers.linear_with_warmup(0.1, 0, v))
counts("schedulers.trace", "epochs", lambda v: schedulers.trace(schedulers.constant(0.1), 2, v))
counts("schedulers.Schedule.__call__", "step", lambda v: schedulers.constant(0.1)(v), [True, 2.0, "3", -1, None])
counts("schedulers.noam", "d_model", lambda v: schedulers.noam(v))
counts("schedulers.exponential_range", "num_steps", lambda v: schedulers.exponential_range(1e-5, 1, v))
counts("transformer.greedy_decode", "max_new_tokens", lambda v: transformer.greedy_decode(S2S, src, v))
counts("transformer.causal_mask", "size", lambda v: transformer.causal_mask(v))
counts("transformer.sinusoidal_positional_encoding", "max_len", lambda v: transformer.sinusoidal_positional_encoding(v, 8))
counts("transformer.reversal_batch", "batch_size", lambda v: transformer.reversal_batch(v))
counts("transformer.reversal_batch", "n_symbols", lambda v: transformer.reversal_batch(2, n_symbols=v))
counts("transformer.parameters_by_component", "depth", lambda v: transformer.parameters_by_component(S2S, v))
counts("transformer.encoder_layer_parameters", "d_model", lambda v: transformer.encoder_layer_parameters(v, 8))
counts("transformer.TransformerConfig", "config.num_layers", lambda v: transformer.Seq2SeqTransformer(transformer.TransformerConfig(num_layers=v)))
counts("transformer.Block", "nhead", lambda v: transformer.Block(8, v, 16))
counts("preprocessing.duplicate_ngram_fraction", "n", lambda v: preprocessing.duplicate_ngram_fraction("a b c", v))
counts("preprocessing.minhashes", "num_perm", lambda v: preprocessing.minhashes(["a b"], num_perm=v))
counts("preprocessing.clean_corpus", "min_words", lambda v: preprocessing.clean_corpus(["a b"], min_words=v), [True, 2.0, "3", -1, None])
counts("preprocessing.train_bpe_tokenizer", "vocab_size", lambda v: preprocessing.train_bpe_tokenizer(["a b"], v))
counts("preprocessing.train_unigram_tokenizer", "max_piece_length", lambda v: preprocessing.train_unigram_tokenizer(["a b"], 100, v))
counts("translation.train_char_tokenizer", "min_frequency", lambda v: translation.train_char_tokenizer(["ab"], min_frequency=v))
counts("translation.decoder_config", "hidden_size", lambda v: translation.decoder_config(10, hidden_size=v))
counts("translation.repeated_ngram_share", "n", lambda v: translation.repeated_ngram_share(["ab"], v))
counts("translation.length_bucket", "edges[0]", lambda v: translation.length_bucket(["a"], edges=(v, 7)))
counts("translation.paired_bootstrap", "n_resamples", lambda v: translation.paired_bootstrap(["a"], ["a"], ["a"], n_resamples=v))
counts("translation.paired_bootstrap", "seed", lambda v: translation.paired_bootstrap(["a"], ["a"], ["a"], n_resamples=2, seed=v), [True, 2.0, "3", -1, None])
counts("translation.cache_encoder_outputs", "batch_size", lambda v: translation.cache_encoder_outputs(None, [[1]], batch_size=v))
counts("translation.translate", "batch_size", lambda v: translation.translate(None, None, ["a"], batch_size=v))
counts("translation.translate", "max_source_length", lambda v: translation.translate(LLM, LTOK, ["a"], max_source_length=v, max_new_tokens=1))
counts("translation.build_encoder_decoder", "encoder_vocab_size", lambda v: translation.build_encoder_decoder("tiny-random-bert", translation.train_char_tokenizer(["ab"]), encoder_vocab_size=v), [True, 2.0, "3", -1, 0])
counts("translation.build_encoder_decoder", "seed", lambda v: translation.build_encoder_decoder("tiny-random-bert", translation.train_char_tokenizer(["ab"]), encoder_vocab_size=10, seed=v), [True, 2.0, "3", -1, None])
counts("forgetting.sentence_embeddings", "batch_size", lambda v: forgetting.sentence_embeddings(BERT, TOK, ["a"], batch_size=v))
counts("forgetting.paraphrase_recall", "max_length", lambda v: forgetting.paraphrase_recall(BERT, TOK, {"a": ["x"], "b": ["y"]}, max_length=v))
counts("llm.generate", "max_new_tokens", lambda v: llm.generate(LLM, LTOK, CONV, max_new_tokens=v))
counts("llm.generate", "batch_size", lambda v: llm.generate(LLM, LTOK, CONV, batch_size=v))
counts("llm.classify", "max_new_tokens", lambda v: llm.classify(LLM, LTOK, CONV, ["yes", "no"], max_new_tokens=v))
counts("llm.next_token_logprobs", "batch_size", lambda v: llm.next_token_logprobs(LLM, LTOK, CONV, [1, 2], batch_size=v))
counts("llm.kv_cache_bytes", "seq_len", lambda v: llm.kv_cache_bytes(LCFG, batch_size=1, seq_len=v, bytes_per_value=2))
counts("llm.kv_cache_bytes", "config['num_key_value_heads']", lambda v: llm.kv_cache_bytes({**LCFG, "num_key_value_heads": v}, batch_size=1, seq_len=4, bytes_per_value=2), [True, 2.0, "3", -1, 0])
counts("llm.llama_parameter_count", "config['num_key_value_heads']", lambda v: llm.llama_parameter_count({**LCFG, "num_key_value_heads": v}), [True, 2.0, "3", -1, 0])
counts("llm.llama_parameter_count", "config['head_dim']", lambda v: llm.llama_parameter_count({**LCFG, "head_dim": v}), [True, 2.0, "3", -1, 0])
counts("llm.llama_parameter_count", "config['hidden_size']", lambda v: llm.llama_parameter_count({**LCFG, "hidden_size": v}))
counts("llm.tiny_llama_config", "vocab_size", lambda v: llm.tiny_llama_config(v))

# ---- floats: NaN / inf / negative / zero / string / bool / None
BAD_PROBS = [NAN, INF, -0.1, 1.5, "0.5", True, None]
def floats(fn, arg, call, bad=BAD_PROBS):
    for v in bad:
        case(fn, f"bad float {v!r}", arg, lambda v=v: call(v))
floats("masking.mlm_mask", "mlm_probability", lambda v: masking.mlm_mask(ids, mlm_probability=v, **MK, **SP))
floats("masking.whole_word_mask", "mask_replace_prob", lambda v: masking.whole_word_mask(ids, [None, 0, 1, 1, None], mask_replace_prob=v, **MK))
floats("masking.sample_span_lengths", "p", lambda v: masking.sample_span_lengths(3, p=v))
floats("masking.nsp_pairs", "random_prob", lambda v: masking.nsp_pairs([["a", "b"], ["c"]], random_prob=v))
floats("masking.sop_pairs", "swap_prob", lambda v: masking.sop_pairs([["a", "b"]], swap_prob=v))
floats("masking.random_patch_masking", "mask_ratio", lambda v: masking.random_patch_masking(2, 4, v))
POS = [NAN, INF, -1.0, 0.0, "1.0", True, None]
floats("adapters.LoRALinear", "lora_alpha", lambda v: adapters.LoRALinear(nn.Linear(4, 4), lora_alpha=v), POS)
floats("adapters.LoRALinear", "lora_dropout", lambda v: adapters.LoRALinear(nn.Linear(4, 4), lora_dropout=v))
floats("adapters.inject_lora", "lora_alpha", lambda v: adapters.inject_lora(bert(), lora_alpha=v), POS)
floats("adapters.lora_for_seq2seq", "lora_dropout", lambda v: adapters.lora_for_seq2seq(bert(), lora_dropout=v, target_modules=["query"]))
floats("augmentation.random_deletion", "p", lambda v: augmentation.random_deletion(["a", "b"], v, 0))
floats("augmentation.eda", "alpha", lambda v: augmentation.eda("a b c", 0, alpha=v))
floats("augmentation.token_noise", "mask_prob", lambda v: augmentation.token_noise(ids2, mask_token_id=4, vocab_size=100, special_ids=[2, 3], mask_prob=v))
floats("augmentation.neftune_noise", "alpha", lambda v: augmentation.neftune_noise(torch.zeros(1, 2, 3), v), [NAN, INF, -1.0, "1.0", True, None])
floats("augmentation.add_neftune", "alpha", lambda v: augmentation.add_neftune(bert(), v), [NAN, INF, -1.0, "1.0", True, None])
floats("ensembles.FGM", "epsilon", lambda v: ensembles.FGM(BERT, v), POS)
floats("compression.prune_linear", "amount", lambda v: compression.prune_linear(bert(), v))
floats("compression.prune_ffn_neurons", "amount", lambda v: compression.prune_ffn_neurons(bert(), v))
floats("compression.sparse_state_dict", "min_sparsity", lambda v: compression.sparse_state_dict(bert(), v))
floats("compression.distillation_loss", "temperature", lambda v: compression.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), v), POS)
floats("metrics.perplexity_from_sum", "nll_sum", lambda v: metrics.perplexity_from_sum(v, 3), [NAN, INF, -1.0, "1.0", True, None])
floats("schedulers.constant", "base_lr", lambda v: schedulers.constant(v), POS)
floats("schedulers.cosine_with_warmup", "num_cycles", lambda v: schedulers.cosine_with_warmup(0.1, 0, 10, v), POS)
floats("schedulers.one_cycle", "pct_start", lambda v: schedulers.one_cycle(0.1, 100, v))
floats("schedulers.polynomial", "end_lr", lambda v: schedulers.polynomial(0.1, 0, 10, end_lr=v), [NAN, INF, -1.0, "1.0", True, None])
floats("schedulers.suggest_lr", "smoothing", lambda v: schedulers.suggest_lr(np.geomspace(1e-5, 1, 10), np.ones(10), smoothing=v))
floats("schedulers.suggest_lr", "divergence", lambda v: schedulers.suggest_lr(np.geomspace(1e-5, 1, 10), np.ones(10), divergence=v), POS)
floats("transformer.Block", "dropout", lambda v: transformer.Block(8, 2, 16, v))
floats("transformer.TransformerConfig", "config.dropout", lambda v: transformer.Seq2SeqTransformer(transformer.TransformerConfig(dropout=v)))
floats("preprocessing.clean_corpus", "near_duplicate_threshold", lambda v: preprocessing.clean_corpus(["a b"], near_duplicate_threshold=v), [NAN, INF, -0.1, 1.5, "0.5", True])
floats("preprocessing.near_duplicate_clusters", "threshold", lambda v: preprocessing.near_duplicate_clusters(["a b"], threshold=v))
floats("translation.decoder_config", "dropout", lambda v: translation.decoder_config(10, dropout=v))
floats("llm.generate", "temperature", lambda v: llm.generate(LLM, LTOK, CONV, do_sample=True, temperature=v), POS)
floats("llm.dpo_loss", "beta", lambda v: llm.dpo_loss(*[torch.zeros(2)] * 4, beta=v), POS)

# ---- number sequences: strings, bools, NaN, None, empty
BAD_SEQS = [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, INF], [1.0, None], [], None, "12", 5]
def seqs(fn, arg, call, bad=BAD_SEQS):
    for v in bad:
        case(fn, f"bad numbers {v!r}", arg, lambda v=v: call(v))
seqs("metrics.perplexity", "token_nll", lambda v: metrics.perplexity(v), [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, INF], [1.0, None], [], None, "12", [-1.0, 2.0]])
seqs("llm.mean_and_se", "values", lambda v: llm.mean_and_se(v))
seqs("llm.paired_difference", "after", lambda v: llm.paired_difference(v, [1.0, 2.0]), [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, INF], [1.0, None], None, "12", 5])
seqs("llm.paired_difference", "before", lambda v: llm.paired_difference([1.0, 2.0], v), [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, INF], [1.0, None], None, "12", 5])
case("llm.paired_difference", "length mismatch", "before", lambda: llm.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0]))
seqs("schedulers.suggest_lr", "lrs", lambda v: schedulers.suggest_lr(v, [1.0, 1.0]), [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, None], None, "12", 5])
seqs("ensembles.average_logits", "logits", lambda v: ensembles.average_logits(v), [[["1"]], [], None, "ab", 5, [np.array([[NAN, 1.0]])], [np.array([[True, False]])]])
seqs("ensembles.uniform_soup", "weights", lambda v: ensembles.uniform_soup([bert(), bert()], v), [["1.0", "2.0"], [True, False], [1.0, NAN], [1.0, INF], [1.0, None], [], "12", 5, [1.0]])

# ---- labels / ids: floats, negative, out of range, bools, strings, huge
BAD_LABELS = [[0.4, 1.6], [0.0, 1.0], [True, False], [0, -1], [0, 7], ["0", "1"], [], None]
def labels(fn, arg, call, bad=BAD_LABELS):
    for v in bad:
        case(fn, f"bad labels {v!r}", arg, lambda v=v: call(v))
labels("metrics.accuracy", "y_true", lambda v: metrics.accuracy(v, [0, 1]), [[0.4, 1.6], [True, False], [0, -1], ["0", "1"], [], None, "01", [[0, 1]]])
labels("metrics.macro_f1", "y_pred", lambda v: metrics.macro_f1([0, 1], v), [[0.4, 1.6], [True, False], [0, -1], ["0", "1"], [], None])
labels("metrics.confusion", "labels", lambda v: metrics.confusion([0, 1], [0, 1], labels=v), [[0.4, 1.6], [True, False], [0, 1, 1], ["0", "1"], [0]])
labels("metrics.compute_metrics", "eval_pred", lambda v: metrics.compute_metrics((np.zeros((2, 2)), v)), [[0.4, 1.6], [True, False], [0, -1], [0, 7], ["0", "1"]])
case("metrics.compute_metrics", "string logits", "eval_pred", lambda: metrics.compute_metrics((np.array([["a", "b"], ["c", "d"]]), [0, 1])))
case("metrics.compute_metrics", "None", "eval_pred", lambda: metrics.compute_metrics(None))
labels("metrics.token_nll", "labels", lambda v: metrics.token_nll(torch.zeros(1, 2, 4), torch.tensor([v]) if v and not isinstance(v[0], str) else v), [[0.4, 1.6], [True, False], [0, -1], [0, 7], ["0", "1"], None, [0, 10**12]])
labels("metrics.perplexity", "labels", lambda v: metrics.perplexity([1.0, 2.0], v), [[0.4, 1.6], [True, False], ["0", "1"], [0]])
labels("masking.shift_for_next_token", "labels", lambda v: masking.shift_for_next_token(torch.zeros(1, 2, 4), torch.tensor([v])), [[0.4, 1.6], [True, False], [0, -1], [0, 7]])
labels("transformer.sequence_loss", "targets", lambda v: transformer.sequence_loss(torch.zeros(1, 2, 4), torch.tensor([v])), [[0.4, 1.6], [True, False], [1, -1], [1, 7]])
labels("transformer.sequence_accuracy", "predicted", lambda v: transformer.sequence_accuracy(torch.tensor([v]), torch.tensor([[0, 1]])), [[0.4, 1.6], [True, False], [0, -1]])
labels("llm.sft_loss", "labels", lambda v: llm.sft_loss(torch.zeros(1, 2, 4), torch.tensor([v])), [[0.4, 1.6], [True, False], [0, -1], [0, 7]])
case("llm.sft_loss", "bool ignore_index", "ignore_index", lambda: llm.sft_loss(torch.zeros(1, 2, 4), torch.tensor([[0, 1]]), ignore_index=True))
case("llm.sft_loss", "string ignore_index", "ignore_index", lambda: llm.sft_loss(torch.zeros(1, 2, 4), torch.tensor([[0, 1]]), ignore_index="-100"))
for v in ([[0.4, 1.6]], [[True, False]], [[0, -1]], [[0, 10**9]], [["a"]]):
    case("ensembles.weighted_vote", f"bad predictions {v!r}", "predictions", lambda v=v: ensembles.weighted_vote([np.array(x) for x in v], num_classes=2))
BAD_IDS = [[2.0, 10.0], [True, False], [2, -1], [2, 10**9], ["a", "b"], None, 5]
def idss(fn, arg, call, bad=BAD_IDS):
    for v in bad:
        case(fn, f"bad ids {v!r}", arg, lambda v=v: call(v))
idss("masking.mlm_mask", "input_ids", lambda v: masking.mlm_mask(v, **MK, **SP))
idss("masking.mlm_mask", "special_ids", lambda v: masking.mlm_mask(ids, special_ids=v, **MK), [[2.0, 10.0], [True, False], [2, -1], [2, 10**9], ["a", "b"], 5])
idss("masking.span_mask", "input_ids", lambda v: masking.span_mask(v, **MK, **SP))
idss("masking.causal_lm_labels", "input_ids", lambda v: masking.causal_lm_labels(v), [[2.0, 10.0], [True, False], [2, -1], ["a", "b"], None, 5])
idss("augmentation.token_noise", "input_ids", lambda v: augmentation.token_noise(v, mask_token_id=4, vocab_size=100, special_ids=[2, 3]))
idss("augmentation.token_noise", "special_ids", lambda v: augmentation.token_noise(ids2, mask_token_id=4, vocab_size=100, special_ids=v), [[2.0, 10.0], [True, False], [2, -1], [2, 10**9], ["a", "b"], 5])
idss("transformer.shift_right", "targets", lambda v: transformer.shift_right(torch.tensor([v]) if isinstance(v, list) and not isinstance(v[0], str) and v[1] < 2**62 else v), [[2.0, 10.0], [True, False], [2, -1], ["a", "b"], None, 5])
idss("transformer.greedy_decode", "src", lambda v: transformer.greedy_decode(S2S, [v] if isinstance(v, list) else v, 3))
idss("translation.cache_encoder_outputs", "input_ids", lambda v: translation.cache_encoder_outputs(translation.build_encoder_decoder("tiny-random-bert", translation.train_char_tokenizer(["ab"]), encoder_vocab_size=10), [v] if isinstance(v, list) else v))
idss("llm.next_token_logprobs", "token_ids", lambda v: llm.next_token_logprobs(LLM, LTOK, CONV, v))
case("metrics.pseudo_perplexity", "id out of vocab", "input_ids", lambda: metrics.pseudo_perplexity(BERT, torch.tensor([[2, 99, 3]]), torch.tensor([[1, 0, 1]]), mask_token_id=4))
case("metrics.pseudo_perplexity", "mask id out of vocab", "mask_token_id", lambda: metrics.pseudo_perplexity(BERT, torch.tensor([[2, 9, 3]]), torch.tensor([[1, 0, 1]]), mask_token_id=400))
case("metrics.pseudo_perplexity", "bool batch_size", "batch_size", lambda: metrics.pseudo_perplexity(BERT, torch.tensor([[2, 9, 3]]), torch.tensor([[1, 0, 1]]), mask_token_id=4, batch_size=True))

# ---- a bool mixed into a Python list of ints (NumPy makes [2, True] an int array): the root is
# checks._int_tensor (checks.py, owned by the other helper), used by token_ids/integers/class_labels.
MIXED = "bool mixed into int list (root: checks._int_tensor)"
case("masking.mlm_mask", MIXED, "input_ids", lambda: masking.mlm_mask([2, True, 11, 3], **MK, **SP))
case("augmentation.token_noise", MIXED, "input_ids", lambda: augmentation.token_noise([[2, True, 11, 3]], mask_token_id=4, vocab_size=100, special_ids=[2, 3]))
case("masking.shift_for_next_token", MIXED, "labels", lambda: masking.shift_for_next_token(torch.zeros(1, 2, 4), [[0, True]]))
case("transformer.greedy_decode", MIXED, "src", lambda: transformer.greedy_decode(S2S, [[3, True, 4]], 2))
case("llm.next_token_logprobs", MIXED, "token_ids", lambda: llm.next_token_logprobs(LLM, LTOK, CONV, [5, True]))
case("ensembles.weighted_vote", MIXED, "predictions", lambda: ensembles.weighted_vote([[0, True, 1]]))

# ---- word ids / groups (incl. huge: must be refused before allocating)
for w in ([None, 0, 2.0, 1, None], [None, True, 1, 1, None], [None, 0, 5, 1, None], [None, 0, 10**12, 1, None], [None, 0, NAN, 1, None], [None, 0, 1, None], "abcde", None, 5, [[None, 0, 1, 1, None]] * 2):
    case("masking.whole_word_mask", f"bad word ids {w!r:.30}", "word_ids", lambda w=w: masking.whole_word_mask(ids, w, **MK))
for g in ([0, 0, 2.0, 1, 1], [0, 0, -2, 1, 1], [0, 0, 10**12, 1, 1], [True] * 5, "abcde", [0, 0]):
    case("masking.apply_replacement", f"bad groups {g!r:.30}", "groups", lambda g=g: masking.apply_replacement(ids, torch.ones(5, dtype=torch.bool), groups=g, **MK))
for t in ([None], ["a", 3], "##a b", ["##a", "b"], 5):
    case("masking.wordpiece_word_ids", f"bad tokens {t!r}", "tokens", lambda t=t: masking.wordpiece_word_ids(t))
for c in ([[0, 1.5]], [[0, -1]], [[0, True]], ["ab"], None, 5):
    case("preprocessing.near_duplicates_to_drop", f"bad clusters {c!r}", "clusters", lambda c=c: preprocessing.near_duplicates_to_drop(c))

# ---- texts: bare string, None, non-strings, empty
BAD_TEXTS = ["one two", None, [1, 2], ["a", None], [], b"ab", 5]
def texts(fn, arg, call, bad=BAD_TEXTS):
    for v in bad:
        case(fn, f"bad texts {v!r}", arg, lambda v=v: call(v))
texts("translation.length_bucket", "texts", lambda v: translation.length_bucket(v), ["one two", None, [1, 2], ["a", None], b"ab", 5])
for e in (None, "47", [], [7, 4], [4, 4], [0, 3], 5, [4.0, 7.0]):
    case("translation.length_bucket", f"bad edges {e!r}", "edges", lambda e=e: translation.length_bucket(["a"], e))
texts("translation.repeated_ngram_share", "texts", lambda v: translation.repeated_ngram_share(v))
texts("translation.train_char_tokenizer", "texts", lambda v: translation.train_char_tokenizer(v))
texts("translation.paired_bootstrap", "hypotheses_a", lambda v: translation.paired_bootstrap(v, ["a"], ["a"]))
texts("translation.translate", "texts", lambda v: translation.translate(None, None, v))
texts("preprocessing.clean_corpus", "texts", lambda v: preprocessing.clean_corpus(v))
texts("preprocessing.exact_duplicates", "texts", lambda v: preprocessing.exact_duplicates(v), ["one two", None, [1, 2], ["a", None], b"ab", 5])
texts("preprocessing.train_bpe_tokenizer", "texts", lambda v: preprocessing.train_bpe_tokenizer(v))
texts("preprocessing.fertility", "texts", lambda v: preprocessing.fertility(TOK, v))
texts("metrics.corpus_bleu", "hypotheses", lambda v: metrics.corpus_bleu(v, ["a"]))
texts("metrics.corpus_chrf", "references", lambda v: metrics.corpus_chrf(["a"], v), [None, [1], ["a", "b"], [], b"ab", 5, [["a"], [None]]])
texts("augmentation.random_deletion", "words", lambda v: augmentation.random_deletion(v, 0.1, 0), ["one two", None, [1, 2], ["a", None], b"ab", 5])
texts("augmentation.eda", "text", lambda v: augmentation.eda(v, 0), [None, ["a"], b"ab", 5])
for op in (None, 5, [], ["delete", "fly"], [None]):
    case("augmentation.eda", f"bad operations {op!r}", "operations", lambda op=op: augmentation.eda("a b", 0, operations=op))
texts("augmentation.back_translate", "texts", lambda v: augmentation.back_translate(v, (None, None), (None, None)), ["one two", None, [1, 2], ["a", None], b"ab", 5])
texts("forgetting.sentence_embeddings", "texts", lambda v: forgetting.sentence_embeddings(BERT, TOK, v))
texts("llm.classify", "choices", lambda v: llm.classify(LLM, LTOK, CONV, v))
texts("llm.parse_choice", "choices", lambda v: llm.parse_choice("yes", v))
for t in (None, 5, ["yes"], b"yes"):
    case("llm.parse_choice", f"bad text {t!r}", "text", lambda t=t: llm.parse_choice(t, ["yes"]))
texts("masking.nsp_pairs", "documents", lambda v: masking.nsp_pairs(v), ["one two", None, [[1, 2]], [["a", None]], [], 5])
for p in (None, [], "hi", [[]], [["hi"]], [[{"role": "user"}]], [[{"role": "user", "content": 5}]], [{"role": "user", "content": "hi"}]):
    case("llm.generate", f"bad prompts {p!r:.30}", "prompts", lambda p=p: llm.generate(LLM, LTOK, p))
for m in (None, [], "hi", [{"role": "user", "content": 5}], [{"role": "user", "content": "hi"}]):
    case("llm.assistant_only_labels", f"bad messages {m!r:.30}", "messages", lambda m=m: llm.assistant_only_labels(LTOK, m))
case("llm.assistant_only_labels", "bool ignore_index", "ignore_index", lambda: llm.assistant_only_labels(LTOK, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], ignore_index=True))

# ---- tensors: NaN, wrong dtype, wrong shape, None
for name, f in (("student_logits", lambda v: compression.distillation_loss(v, torch.zeros(2, 3))),
                ("teacher_logits", lambda v: compression.distillation_loss(torch.zeros(2, 3), v))):
    for v in (torch.tensor([[NAN, 0, 0], [0, 0, 0]]), torch.tensor([[INF, 0, 0], [0, 0, 0]]), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4), None, [[0.0] * 3] * 2):
        case("compression.distillation_loss", f"bad {name}", name, lambda v=v, f=f: f(v))
for v in (torch.tensor([[[NAN, 0.0]]]), torch.zeros(1, 1, 2, dtype=torch.long), None, torch.zeros(2)):
    case("llm.sft_loss", "bad logits", "logits", lambda v=v: llm.sft_loss(v, torch.tensor([[0]])))
for v in (torch.tensor([NAN, 0.0]), torch.tensor([INF, 0.0]), torch.zeros(2, dtype=torch.long), None, [0.0, 0.0], torch.zeros(3)):
    case("llm.dpo_loss", "bad logps", "policy_rejected_logps", lambda v=v: llm.dpo_loss(torch.zeros(2), v, torch.zeros(2), torch.zeros(2)))
for v in (torch.tensor([[[NAN, 0.0]]]), torch.zeros(1, 1, 2, dtype=torch.long), None, torch.zeros(2)):
    case("augmentation.neftune_noise", "bad embeddings", "embeddings", lambda v=v: augmentation.neftune_noise(v, 1.0))
for v in (torch.tensor([[NAN, 0.0]]), torch.zeros(1, 2, dtype=torch.long), None, torch.zeros(1, 3), torch.zeros(0, 2)):
    case("forgetting.recall_at_1", "bad candidates", "candidates", lambda v=v: forgetting.recall_at_1(torch.zeros(1, 2), v))
for v in (torch.tensor([[NAN, 0.0]]), torch.zeros(1, 2, dtype=torch.long), [[0.0, 1.0]]):
    case("metrics.token_nll", "bad logits", "logits", lambda v=v: metrics.token_nll(v, torch.tensor([[0]])))
for v in (torch.zeros(1, 3, 3, 3), torch.zeros(1, 3, 4, 4, dtype=torch.long), None, torch.zeros(3, 4, 4)):
    case("masking.patchify", "bad images", "images", lambda v=v: masking.patchify(v, 2))
for v in (torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.long), [[0.1] * 4] * 2, torch.full((2, 4), NAN)):
    case("masking.random_patch_masking", "bad noise", "noise", lambda v=v: masking.random_patch_masking(2, 4, noise=v))
for v in ([[1, 2], [1, 2]], [np.zeros((2, 2))], [torch.zeros(2), torch.zeros(3)], [[2.0, 1.0]], None):
    case("translation.collate_cached", f"bad rows {v!r:.30}", "rows", lambda v=v: translation.collate_cached(v))
case("translation.collate_cached", "empty rows", "rows", lambda: translation.collate_cached([]))
case("translation.cached_rows", "float labels", "labels", lambda: translation.cached_rows([torch.zeros(2, 4)], [[0.5, 1.5]]))
case("translation.cached_rows", "negative labels", "labels", lambda: translation.cached_rows([torch.zeros(2, 4)], [[0, -7]]))
case("translation.cached_rows", "states not tensors", "states", lambda: translation.cached_rows([[0.0, 1.0]], [[0, 1]]))
case("translation.train_steps_per_second", "zero runtime", "log_history", lambda: translation.train_steps_per_second([{"step": 3, "train_runtime": 0.0}]))
case("translation.train_steps_per_second", "None", "log_history", lambda: translation.train_steps_per_second(None))
case("translation.train_steps_per_second", "not dicts", "log_history", lambda: translation.train_steps_per_second([1, 2]))
case("translation.cache_encoder_outputs", "bad pad id", "pad_token_id", lambda: translation.cache_encoder_outputs(translation.build_encoder_decoder("tiny-random-bert", translation.train_char_tokenizer(["ab"]), encoder_vocab_size=10), [[1, 2], [1]], pad_token_id=-1))
case("translation.cache_encoder_outputs", "bool pad id", "pad_token_id", lambda: translation.cache_encoder_outputs(translation.build_encoder_decoder("tiny-random-bert", translation.train_char_tokenizer(["ab"]), encoder_vocab_size=10), [[1, 2], [1]], pad_token_id=True))
case("translation.paired_bootstrap", "unknown metric", "metric", lambda: translation.paired_bootstrap(["a"], ["a"], ["a"], metric="ter"))
case("forgetting.paraphrase_recall", "pairs not a frame", "pairs", lambda: forgetting.paraphrase_recall(BERT, TOK, [("a", "b")]))
case("forgetting.paraphrase_recall", "missing column", "pairs", lambda: forgetting.paraphrase_recall(BERT, TOK, {"x": ["a"]}))
case("llm.kv_cache_bytes", "missing key", "config", lambda: llm.kv_cache_bytes({"num_attention_heads": 4}, batch_size=1, seq_len=1, bytes_per_value=2))
case("llm.kv_cache_bytes", "config None", "config", lambda: llm.kv_cache_bytes(None, batch_size=1, seq_len=1, bytes_per_value=2))
case("llm.llama_parameter_count", "config None", "config", lambda: llm.llama_parameter_count(None))
case("llm.llama_parameter_count", "heads do not divide", "config", lambda: llm.llama_parameter_count({**LCFG, "hidden_size": 10}))
case("llm.mean_and_se", "one value", "values", lambda: llm.mean_and_se([1.0]))
case("ensembles.greedy_soup", "evaluate not callable", "evaluate", lambda: ensembles.greedy_soup([bert()], 5))
case("ensembles.greedy_soup", "evaluate returns string", "evaluate", lambda: ensembles.greedy_soup([bert()], lambda s: "0.5"))
case("ensembles.uniform_soup", "empty", "models", lambda: ensembles.uniform_soup([]))
case("ensembles.FGM", "not a model", "model", lambda: ensembles.FGM(None))
case("compression.quantize_dynamic", "bad dtype", "dtype", lambda: compression.quantize_dynamic(bert(), torch.int8))
case("compression.prune_linear", "bad scope", "scope", lambda: compression.prune_linear(bert(), 0.5, scope="layer"))
case("compression.latency_ms", "dataset None", "dataset", lambda: compression.latency_ms(bert(), None, None))
case("compression.state_dict_bytes", "None", "model_or_state", lambda: compression.state_dict_bytes(None))
case("schedulers.to_lambda_lr", "bool last_epoch", "last_epoch", lambda: schedulers.to_lambda_lr(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), schedulers.constant(0.1), True))
case("schedulers.Schedule.values", "bool num_steps", "num_steps", lambda: schedulers.constant(0.1).values(True))
case("adapters.activation_memory", "batch not a dict", "batch", lambda: adapters.activation_memory(bert(), [1, 2]))
case("adapters.inject_lora", "unknown target", "target_modules", lambda: adapters.inject_lora(bert(), ["nope"]))
case("adapters.inject_lora", "target None", "target_modules", lambda: adapters.inject_lora(bert(), None))
case("adapters.merge_lora", "no LoRA", "model", lambda: adapters.merge_lora(bert()))
case("preprocessing.jaccard", "lists", "a", lambda: preprocessing.jaccard([1], {1}))
case("preprocessing.split_dataset", "not a dataset", "ds", lambda: preprocessing.split_dataset([1, 2, 3], validation_size=1, test_size=1))
case("preprocessing.cross_split_near_duplicates", "unhashable reference", "reference", lambda: preprocessing.cross_split_near_duplicates({"train": ["a"]}, reference=["train"]))
case("preprocessing.tokens", "tokenizer None", "tokenizer", lambda: preprocessing.tokens(None, "a b"))
case("preprocessing.save_splits", "bad fmt", "fmt", lambda: preprocessing.save_splits({}, "/tmp/x", fmt="csv"))
case("preprocessing.normalize_unicode", "bad form", "form", lambda: preprocessing.normalize_unicode("a", "NFX"))

# ---- exercises: bad fn / show
for fname in [n for n in dir(exercises) if n.startswith("check_") and n not in ("check_value", "check_function")]:
    f = getattr(exercises, fname)
    case(f"exercises.{fname}", "fn not callable", "fn", lambda f=f: f(5, show=False))
    case(f"exercises.{fname}", "show not bool", "show", lambda f=f: f(lambda *a, **k: 0, show="no"))
case("exercises.check_value", "bad rel_tol", "rel_tol", lambda: exercises.check_value(1.0, 1.0, rel_tol=NAN))
case("exercises.check_value", "string rel_tol", "rel_tol", lambda: exercises.check_value(1.0, 1.0, rel_tol="0.1"))
case("exercises.check_function", "cases None", "cases", lambda: exercises.check_function(abs, None))
case("exercises.check_function", "fn None", "fn", lambda: exercises.check_function(None, [((1,), 1)]))
case("exercises.check_mlm_masking", "bool n", "n", lambda: exercises.check_mlm_masking(lambda *a, **k: 0, show=False, n=True))


# Accepted on purpose (documented), so not a SILENT failure: (function, class prefix): reason.
BY_DESIGN = {
    ("metrics.", "bad labels [True, False]"): "class ids may be bools (documented in metrics._labels)",
    ("llm.mean_and_se", "bad numbers [True, False]"): "0/1 correctness values (book: mean_and_se(correct[...]))",
    ("llm.paired_difference", "bad numbers [True, False]"): "book: paired_difference(after > 0.5, before > 0.5)",
    ("masking.patchify", "bad images"): "integer (uint8) images are valid pixels",
    ("forgetting.recall_at_1", "bad candidates"): "integer embeddings are converted with .float()",
}


def by_design(fn, cls):
    return next((why for (f, c), why in BY_DESIGN.items() if fn.startswith(f) and cls.startswith(c)), None)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(verbose=False):
    counts_by = collections.Counter(); bad = []
    for fn, cls, arg, thunk in cases:
        before = peak_rss_mib()
        try:
            thunk()
            why = by_design(fn, cls)
            outcome, msg = ("BY-DESIGN", f"(accepted: {why})") if why else ("SILENT", "(accepted)")
        except MemoryError as e:
            outcome, msg = "OOM", repr(e)
        except Exception as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e}"
            named = arg in str(e) or arg.split("[")[0].split(".")[0] in str(e)
            ok_type = isinstance(e, (TypeError, ValueError, LookupError, FileNotFoundError, RuntimeError))
            outcome = "CLEAR" if named and ok_type else "UNCLEAR"
        if peak_rss_mib() - before > 1024:
            outcome = "OOM"
        counts_by[outcome] += 1
        if outcome != "CLEAR" or verbose:
            bad.append(f"{outcome:8s} {fn} [{cls}] expects '{arg}': {msg[:160]!s}".replace("\n", " "))
    print("\n".join(bad))
    print(f"\n{len(cases)} bad inputs: " + ", ".join(f"{k} {counts_by[k]}" for k in ("CLEAR", "UNCLEAR", "SILENT", "OOM", "BY-DESIGN")))


if __name__ == "__main__":
    run("-v" in sys.argv)
