// Writes the model card (README.md) of a folder made by `microsteer pretrain` on the demo corpus:
// every number is read from the folder's pretraining.json and config.json, and the sample
// continuations are generated here, seeded, at temperature 0.8.
//
//   node scripts/model-card.mjs models/demo
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SOURCES } from './demo-corpus.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/model-card.mjs MODEL_DIR');
  process.exit(2);
}
const record = JSON.parse(readFileSync(path.join(dir, 'pretraining.json'), 'utf8'));
const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
const s = record.settings;

/** One prompt per register; the continuations show what each source taught the model. */
const PROMPTS = ['The best thing about computers is', 'And the LORD said unto Moses,', 'Der Mensch ist'];

function sample(prompt, seed) {
  const args = ['dist/cli.js', 'generate', '--model', dir, '--prompt', prompt, '--max-tokens', '48', '--temperature', '0.8', '--seed', String(seed)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`generate failed: ${r.stderr}`);
  return r.stdout.trimEnd();
}

const sourceOf = new Map(SOURCES.map((x) => [x.name, x]));
const rows = record.heldout.map((h, i) => {
  const t = record.train[i];
  return `| ${h.source} | \`${sourceOf.get(h.source)?.package ?? '?'}\` | ${t.loss.toFixed(3)} | ${h.loss.toFixed(3)} | ${h.bitsPerChar.toFixed(3)} | ${h.tokens} |`;
});
const licences = SOURCES.map((x) => `- **${x.name}**: Debian package \`${x.package}\`; ${x.licence}.`);
const samples = PROMPTS.flatMap((p, i) => [1, 2].map((seed) => `> **${p}**${sample(p, 10 * i + seed).replace(/\n/g, '\n> ')}\n`));
const weightsBytes = statSync(path.join(dir, 'model.safetensors')).size;
const minutes = (record.trainingSeconds / 60).toFixed(0);

const card = `# Micro Steer demo model

A small Gemma-2 (\`Gemma2ForCausalLM\`, the real architecture: grouped-query attention, alternating
sliding-window and global layers, soft-capping, tied embeddings) that the project pretrained itself,
with its own byte-level BPE tokenizer, on free text from Debian packages. It exists so that steering
can be seen to work on the embedded default: it knows three registers (modern English, the Early
Modern English of the King James Bible, German), which a plane or a mean-difference vector can pull
its text between. It is far too small to know much; its text is locally fluent at best.

## Reproduce

\`\`\`sh
npm ci && npm run demo-model   # = node scripts/demo-model.mjs: corpus, pretraining, this card
\`\`\`

It installs the Debian packages below (as root) when missing, writes the corpus to
\`.cache/demo-corpus/\`, runs \`microsteer pretrain\` with the settings in \`scripts/demo-model.mjs\`
(checkpoints in \`models/demo/checkpoint/\`; Ctrl-C, then \`npm run demo-model -- --resume\`), and
writes this card. The same seed gives the same model on the same onnxruntime build.

## Training data

${licences.join('\n')}

Fortunes are one document each (overstrikes removed, pictures and tables dropped); the Bible is five
verses to a document, never across chapters. Documents repeated up to white space are kept once.
Every ${s.heldoutEvery}th document of each source is held out and never trained on.

## Model

| | |
|---|---|
| layers | ${config.num_hidden_layers} (sliding window ${config.sliding_window} on even layers, global on odd) |
| hidden size | ${config.hidden_size} |
| attention | ${config.num_attention_heads} heads of ${config.head_dim}, ${config.num_key_value_heads} key/value head(s) |
| MLP | ${config.intermediate_size} (gelu tanh) |
| vocabulary | ${config.vocab_size} (byte-level BPE; \`<pad>\` 0, \`<eos>\` 1, \`<bos>\` 2, \`<unk>\` 3, \`<start_of_turn>\` 4, \`<end_of_turn>\` 5) |
| context | ${config.max_position_embeddings} tokens |
| parameters | ${record.parameters} |
| weights | ${config.torch_dtype}, ${(weightsBytes / 1e6).toFixed(1)} MB |
| default hook layer | ${Math.floor(config.num_hidden_layers / 2)} |

Tokenizer: trained by \`microsteer pretrain\` on the training documents (GPT-2's pre-tokenizer
pattern and byte alphabet, so every UTF-8 text round-trips exactly); a Gemma-style chat template.

## Training

AdamW (betas 0.9/0.95, weight decay ${s.weightDecay} on matrices, gradient clipping at 1), peak
learning rate ${s.lr} after ${s.warmupSteps} warm-up steps, cosine to ${(s.lr * s.minLrRatio).toPrecision(2)}; ${record.stepsDone} steps of
${s.batchTokens} tokens (${record.tokensSeen} tokens seen); ${minutes} minutes on a 2-core CPU
(${record.device}, onnxruntime, shared with other work). Final training loss (mean of the last
steps): ${record.finalTrainLoss.toFixed(3)} nats/token.

Measured on the saved ${config.torch_dtype} weights, per source (loss: mean NLL per text token; the
train column reads as many training windows as the held-out column has):

| source | package | train loss | held-out loss | held-out bits/char | held-out tokens |
|---|---|---|---|---|---|
${rows.join('\n')}

## Samples (temperature 0.8, seeded)

${samples.join('\n')}
`;
writeFileSync(path.join(dir, 'README.md'), card);
console.error(`model card: ${path.join(dir, 'README.md')}`);
