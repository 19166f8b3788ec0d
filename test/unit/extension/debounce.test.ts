import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quietPeriod, type CancellationLike } from '../../../src/extension/debounce';

/** A cancellation token like VS Code's: listeners fire once on cancel. */
class FakeToken implements CancellationLike {
  isCancellationRequested = false;
  private listeners = new Set<() => void>();
  onCancellationRequested(listener: () => void) {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  cancel(): void {
    this.isCancellationRequested = true;
    for (const l of [...this.listeners]) l();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

test('resolves true once the quiet period passes without cancellation', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const token = new FakeToken();
  let result: boolean | undefined;
  void quietPeriod(300, token).then((r) => (result = r));
  t.mock.timers.tick(299);
  await Promise.resolve();
  assert.equal(result, undefined, 'resolved before the period ended');
  t.mock.timers.tick(1);
  await Promise.resolve();
  assert.equal(result, true);
  assert.equal(token.listenerCount, 0, 'the cancellation listener was not released');
});

test('resolves false as soon as the token is cancelled, without waiting for the period', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const token = new FakeToken();
  let result: boolean | undefined;
  void quietPeriod(300, token).then((r) => (result = r));
  t.mock.timers.tick(100);
  token.cancel();
  await Promise.resolve();
  assert.equal(result, false);
  // The timer is gone too: ticking past the period changes nothing.
  t.mock.timers.tick(1000);
  await Promise.resolve();
  assert.equal(result, false);
});

test('an already cancelled token resolves false at once', async () => {
  const token = new FakeToken();
  token.cancel();
  assert.equal(await quietPeriod(10_000, token), false);
});

test('typing bursts: only the request after the last keystroke survives', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  // VS Code cancels the previous request at every keystroke; keystrokes every 100 ms, debounce 300 ms.
  const results: (boolean | undefined)[] = [];
  let previous: FakeToken | undefined;
  for (let i = 0; i < 5; i++) {
    previous?.cancel();
    const token = new FakeToken();
    const index = results.push(undefined) - 1;
    void quietPeriod(300, token).then((r) => (results[index] = r));
    previous = token;
    t.mock.timers.tick(100);
    await Promise.resolve();
  }
  t.mock.timers.tick(200);
  await Promise.resolve();
  assert.deepEqual(results, [false, false, false, false, true]);
});
