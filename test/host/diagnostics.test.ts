/**
 * Layer diagnostics and hidden-state comparison in a real extension host on the tiny model: the commands
 * (with arguments) return per-layer numbers and open the diagnostics panel.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LayerDiagnostics, ModelSummary, StateComparison } from '../../src/protocol';
import { activateExtension, clearSuiteSettings, planeFor, setWorkspaceSettings, useTinyModel, waitFor } from './support';

const A = ['The weather is calm.', 'A quiet lake at dawn.', 'We walked home slowly.'];
const B = ['The storm tore the roof off!', 'Thunder cracked overhead!', 'Fire swept the hills!'];

suite('Diagnostics', () => {
  let model: ModelSummary;

  suiteSetup(async () => {
    await activateExtension();
    model = await useTinyModel();
  });

  suiteTeardown(clearSuiteSettings);

  const diagnosticsTab = () =>
    vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('microSteer.diagnostics'));

  test('layer diagnostics return per-layer numbers and the middle layer of largest gap, in the panel', async () => {
    const result = await vscode.commands.executeCommand<LayerDiagnostics | undefined>('microSteer.layerDiagnostics', { a: A, b: B });
    assert.ok(result, 'the command returned nothing');
    assert.deepEqual(result.layers.map((d) => d.layer), [0, 1, 2, 3]);
    for (const d of result.layers) {
      for (const x of [d.meanCosine, d.varianceA.mean, d.varianceA.max, d.varianceB.mean, d.varianceB.max, d.normalisedGap]) assert.ok(Number.isFinite(x), `layer ${d.layer}: ${x}`);
      assert.ok(d.meanCosine <= 1 + 1e-9 && d.meanCosine >= -1 - 1e-9);
      assert.ok(d.varianceA.max >= d.varianceA.mean && d.varianceB.max >= d.varianceB.mean);
    }
    // The middle half of 4 layers is 1 and 2: the suggestion is the one of larger gap there.
    const [one, two] = [result.layers[1], result.layers[2]];
    assert.equal(result.suggestedLayer, two.normalisedGap > one.normalisedGap ? 2 : 1);
    assert.equal(result.examplesA, 3);
    await waitFor(() => diagnosticsTab() !== undefined, 'the diagnostics panel', 10_000);
  });

  test('compare hidden states: without a plane, cosines only; with the active plane, steered cosines too', async () => {
    await setWorkspaceSettings({ planes: { axis: planeFor(model) }, activePlane: undefined });
    const args = { promptA: 'The city of Paris', promptB: 'The city of Rome', tokenA: -1, tokenB: -1, show: false };
    const plain = await vscode.commands.executeCommand<StateComparison | undefined>('microSteer.compareStates', args);
    assert.ok(plain);
    assert.equal(plain.states.length, model.numHiddenLayers + 1);
    assert.ok(plain.states.every((s) => s.cosineSteered === undefined));
    assert.ok(plain.tokenA.index > 0 && plain.tokenB.index > 0, 'the last token, not BOS');

    await setWorkspaceSettings({ activePlane: 'axis', alpha: 5 });
    const steered = await vscode.commands.executeCommand<StateComparison | undefined>('microSteer.compareStates', args);
    assert.ok(steered);
    assert.ok(steered.states.every((s) => typeof s.cosineSteered === 'number'));
    assert.deepEqual(steered.states.map((s) => s.cosine), plain.states.map((s) => s.cosine));
  });

  test('a hidden-state comparison opens a tab of its own beside the layer diagnostics', async () => {
    const diagnosticsTabs = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('microSteer.diagnostics'));
    await waitFor(() => diagnosticsTabs().length === 1, 'the layer diagnostics tab of the first test');
    const args = { promptA: 'The city of Paris', promptB: 'The city of Rome', tokenA: -1, tokenB: -1 };
    assert.ok(await vscode.commands.executeCommand<StateComparison | undefined>('microSteer.compareStates', args));
    await waitFor(() => diagnosticsTabs().length === 2, 'a second diagnostics tab', 10_000);
    assert.deepEqual(diagnosticsTabs().map((t) => t.label).sort(), ['Micro Steer: hidden states', 'Micro Steer: layer diagnostics']);
    // The next comparison reuses its own tab.
    assert.ok(await vscode.commands.executeCommand<StateComparison | undefined>('microSteer.compareStates', args));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(diagnosticsTabs().length, 2);
  });
});
