/** The diagnostics plots' geometry, against coordinates worked out by hand for a 100 x 60 box. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linePlot } from '../../../webview/linePlot';

// Plot area: x from 10 to 90 (width 80), y from 5 to 45 (height 40).
const BOX = { width: 100, height: 60, left: 10, right: 10, top: 5, bottom: 15 };

test('two series share the y range of all their values; x spreads the entries over the width', () => {
  const plot = linePlot(['0', '1', '2'], [[0, 1, 2], [4, 2, 0]], BOX);
  assert.ok(plot);
  assert.deepEqual(plot.xs, [10, 50, 90]);
  // Range 0..4: value v at y = 5 + (4 - v) / 4 * 40.
  assert.equal(plot.lines[0], '10,45 50,35 90,25');
  assert.equal(plot.lines[1], '10,5 50,25 90,45');
  assert.deepEqual(plot.yTicks, [{ at: 45, label: '0' }, { at: 5, label: '4' }]);
  assert.deepEqual(plot.xTicks.map((t) => [t.at, t.label]), [[10, '0'], [50, '1'], [90, '2']]);
});

test('non-finite values are left out of their line; a flat series is centred; nothing finite draws nothing', () => {
  const gap = linePlot(['a', 'b', 'c'], [[1, Number.NaN, 3]], BOX)!;
  assert.equal(gap.lines[0], '10,45 90,5');
  const flat = linePlot(['a', 'b'], [[2, 2]], BOX)!;
  // Padded by 5% of 2 on each side: the line sits in the middle, y = 25.
  assert.equal(flat.lines[0], '10,25 90,25');
  assert.deepEqual(flat.yTicks, [{ at: 25, label: '2' }]);
  assert.equal(linePlot(['a'], [[Number.POSITIVE_INFINITY]], BOX), undefined);
  assert.deepEqual(linePlot(['only'], [[7]], BOX)!.xs, [50]);
});
