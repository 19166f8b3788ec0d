/**
 * BF16 and F16 weight files run on CPU (cast to float32 inside the graph) and give the logits of
 * the same values held in F32: the float64 reference over the decoded weights.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { referenceForward } from '../../reference/gemma2Reference';
import { maxAbsDiff, seededIds, seededPlane, tinyModel } from './gemma2TestKit';

/** Same as F32: the casts are exact, so only float32 arithmetic separates graph and reference. */
const SAME_VALUES_TOLERANCE = 1e-4;

const ids = seededIds(20, 31);

for (const dtype of ['bf16', 'f16'] as const) {
  test(`${dtype} weights give the logits of the same values in float64, with and without a plane`, async () => {
    const tiny = await tinyModel({ dtype });
    const f32 = await tinyModel({ dtype: 'f32' });
    assert.ok([...tiny.folder.tensors.values()].every((t) => t.dtype === dtype.toUpperCase()));
    const runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
    try {
      const plane = { ...seededPlane(tiny.folder.config.hiddenSize, 32), alpha: 2 };
      const positions = ids.map(() => true);
      const [plain] = referenceForward(tiny.reference, [ids]);
      const [steered] = referenceForward(tiny.reference, [ids], { steer: [{ ...plane, layer: runner.hookLayer, positions }] });
      const plainDiff = maxAbsDiff((await runner.prefill([ids])).logits, plain.lastLogits);
      const steeredDiff = maxAbsDiff((await runner.prefill([ids], [{ ...plane, positions: 'all' }])).logits, steered.lastLogits);
      assert.ok(plainDiff <= SAME_VALUES_TOLERANCE, `unsteered: max abs difference ${plainDiff}`);
      assert.ok(steeredDiff <= SAME_VALUES_TOLERANCE, `steered: max abs difference ${steeredDiff}`);
      // The rounded weights are really other numbers than the F32 model's (or the check above proves nothing new),
      // yet close to them: the same seeded model.
      const [fromF32] = referenceForward(f32.reference, [ids]);
      const rounding = maxAbsDiff(plain.lastLogits, fromF32.lastLogits);
      assert.ok(rounding > 1e-4 && rounding < 0.5, `${dtype} vs f32 reference logits differ by ${rounding}`);
    } finally {
      await runner.release();
    }
  });
}
