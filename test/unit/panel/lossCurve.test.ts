import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLoss, lossCurve, type ChartBox } from '../../../webview/lossCurve';

// A 100 x 50 plot area starting at (10, 5): coordinates below are worked out by hand from
// x = 10 + 100 * i / (n - 1) and y = 5 + 50 * (max - v) / (max - min).
const BOX: ChartBox = { width: 110, height: 60, left: 10, right: 0, top: 5, bottom: 5 };

test('points span the plot: first step at the left, last at the right, high losses at the top', () => {
  const curve = lossCurve([3, 1, 2], BOX);
  assert.deepEqual(curve, {
    points: '10,5 60,55 110,30',
    xTicks: [
      { at: 10, label: '1' },
      { at: 110, label: '3' },
    ],
    yTicks: [
      { at: 55, label: '1' },
      { at: 5, label: '3' },
    ],
  });
});

test('non-finite losses are left out of the line but keep their step on the x axis', () => {
  const curve = lossCurve([4, Number.NaN, 2, Infinity, 3], BOX);
  assert.equal(curve?.points, '10,5 60,55 110,30');
  assert.deepEqual(curve?.xTicks, [
    { at: 10, label: '1' },
    { at: 110, label: '5' },
  ]);
});

test('a flat history is drawn across the middle instead of dividing by zero', () => {
  assert.equal(lossCurve([0, 0], BOX)?.points, '10,30 110,30');
  assert.equal(lossCurve([-2, -2, -2], BOX)?.points, '10,30 60,30 110,30');
  const single = lossCurve([7], BOX);
  assert.deepEqual(single, { points: '60,30', xTicks: [{ at: 60, label: '1' }], yTicks: [{ at: 30, label: '7' }] });
});

test('nothing to draw without a finite loss', () => {
  assert.equal(lossCurve([], BOX), undefined);
  assert.equal(lossCurve([Number.NaN, Infinity], BOX), undefined);
});

test('coordinates are rounded to two decimals', () => {
  // v = 1 of [0, 3]: y = 5 + 50 * 2 / 3 = 38.333...
  assert.equal(lossCurve([0, 3, 1], BOX)?.points, '10,55 60,5 110,38.33');
});

// Long enough that spreading it into Math.min would overflow the call's argument list.
test('a long random history stays inside the plot, with its extremes on the plot edges', () => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const history = Array.from({ length: 200_000 }, () => 1e4 * random() - 50);
  const curve = lossCurve(history, BOX);
  assert.ok(curve);
  const points = curve.points.split(' ').map((p) => p.split(',').map(Number));
  assert.equal(points.length, history.length);
  for (const [x, y] of points) {
    assert.ok(x >= 10 && x <= 110 && y >= 5 && y <= 55, `point ${x},${y} outside the plot`);
  }
  const ys = points.map(([, y]) => y);
  assert.equal(ys.reduce((a, b) => Math.max(a, b)), 55, 'the minimum loss lies on the bottom edge');
  assert.equal(ys.reduce((a, b) => Math.min(a, b)), 5, 'the maximum loss lies on the top edge');
});

test('loss labels have three significant digits', () => {
  assert.equal(formatLoss(1234.5), '1230');
  assert.equal(formatLoss(0.012345), '0.0123');
  assert.equal(formatLoss(2.5), '2.5');
  assert.equal(formatLoss(-0.4567), '-0.457');
});

test('the two loss labels get as many digits as it takes to differ', () => {
  // 141260 and 140980 both round to 141000 at three digits; at four they read 141300 and 141000.
  assert.deepEqual(
    lossCurve([141260, 141100, 140980], BOX)?.yTicks.map((t) => t.label),
    ['141000', '141300'],
  );
  assert.deepEqual(
    lossCurve([2.00004, 2.00001], BOX)?.yTicks.map((t) => t.label),
    ['2.00001', '2.00004'],
  );
  // Labels that already differ keep three digits.
  assert.deepEqual(lossCurve([3, 1, 2], BOX)?.yTicks.map((t) => t.label), ['1', '3']);
});
