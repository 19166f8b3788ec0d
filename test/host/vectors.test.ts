/**
 * Mean-difference vectors in a real extension host on the tiny model: computed from two selections and
 * stored in .vscode/settings.json (a malformed neighbour untouched), exported as a GGUF control vector and
 * imported back, and steering in the panel's batched run.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { MeanDifferenceRecord, ModelSummary, PanelAblation } from '../../src/protocol';
import { activateExtension, base64Floats, clearSuiteSettings, openEditor, readSettingsFile, setWorkspaceSettings, useTinyModel } from './support';

const TEXT = ['The weather is calm.', 'A quiet lake at dawn.', '', 'The storm tore the roof off!', 'Thunder cracked overhead!'].join('\n');

suite('Mean-difference vectors', () => {
  let model: ModelSummary;
  let tmp: string;
  const stored = () => readSettingsFile()['microSteer.vectors'] as Record<string, unknown>;

  suiteSetup(async () => {
    await activateExtension();
    model = await useTinyModel();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-vectors-'));
    await setWorkspaceSettings({ trainingSplit: 'line', vectors: { broken: { kind: 'meanDifference', layers: 'all' } } });
  });

  suiteTeardown(async () => {
    await clearSuiteSettings();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('computing from two selections stores the record for the loaded model; other entries stay as they were', async () => {
    const editor = await openEditor(TEXT);
    const line = (n: number) => editor.document.lineAt(n).range;
    // The second selection first: the sets follow the document order.
    editor.selections = [new vscode.Selection(line(3).start, line(4).end), new vscode.Selection(line(0).start, line(1).end)];
    const result = await vscode.commands.executeCommand<{ name: string; record: MeanDifferenceRecord } | undefined>('microSteer.computeVector', { name: 'storm', position: 'last' });
    assert.ok(result, 'the command stored nothing');
    const record = stored().storm as MeanDifferenceRecord;
    assert.deepEqual(record, JSON.parse(JSON.stringify(result.record)));
    assert.equal(record.kind, 'meanDifference');
    assert.deepEqual(record.layers, [0, 1, 2, 3]);
    assert.equal(record.vectors.length, 4);
    assert.equal(Buffer.from(record.vectors[0], 'base64').length, model.hiddenSize * 4);
    assert.deepEqual(record.model, { hiddenSize: model.hiddenSize, numHiddenLayers: model.numHiddenLayers, fingerprint: model.fingerprint });
    assert.deepEqual(record.settings, { position: 'last', chatTemplate: false, sourceExamples: 2, targetExamples: 2 });
    assert.deepEqual(stored().broken, { kind: 'meanDifference', layers: 'all' });
  });

  test('GGUF export then import round-trips the vectors of layers 1 and up', async () => {
    const file = path.join(tmp, 'storm.gguf');
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>('microSteer.exportVector', 'storm', file);
    assert.equal(uri?.fsPath, file);
    assert.equal(fs.readFileSync(file).subarray(0, 4).toString('latin1'), 'GGUF');
    assert.equal(await vscode.commands.executeCommand('microSteer.importVector', file, 'storm back'), 'storm back');
    const original = stored().storm as MeanDifferenceRecord;
    const back = stored()['storm back'] as MeanDifferenceRecord;
    assert.deepEqual(back.layers, [1, 2, 3]);
    assert.deepEqual(back.vectors, original.vectors.slice(1));
    assert.equal(back.model, undefined);
    assert.equal(back.imported?.modelHint, 'gemma2');
  });
});

suite('Vectors in the steering panel', () => {
  let api: MicroSteerApi;
  let model: ModelSummary;

  suiteSetup(async () => {
    api = await activateExtension();
    model = await useTinyModel();
  });

  suiteTeardown(clearSuiteSettings);

  const SAMPLING = { temperature: 0, topK: 0, topP: 1, seed: 0, maxNewTokens: 6, chatTemplate: false, steerPrompt: 'last' } as const;
  const generate = (planeName: string, alphas: number[], ablate?: PanelAblation) => {
    const token = new vscode.CancellationTokenSource();
    const params = { prompt: 'Once upon a time', planeName, steerWith: 'vector' as const, alphas, sampling: SAMPLING, ...(ablate ? { ablate } : {}) };
    return api.panelBackend.generate(params, () => undefined, token.token);
  };

  test('the panel lists the vector and compares its coefficients in one batched run', async () => {
    // Along one axis, large enough to move the tiny model's greedy choice.
    const layer = model.defaultHookLayer;
    const axis = new Array<number>(model.hiddenSize).fill(0);
    axis[5] = 40;
    const record = { kind: 'meanDifference', layers: [layer], vectors: [base64Floats(axis)], model: { hiddenSize: model.hiddenSize, numHiddenLayers: model.numHiddenLayers, fingerprint: model.fingerprint }, createdAt: new Date().toISOString() };
    await setWorkspaceSettings({ vectors: { axis: record, foreign: { ...record, model: { ...record.model, fingerprint: 'another' } } } });
    assert.deepEqual(api.panelBackend.listVectors().map((v) => [v.name, v.steeringLayer]), [['axis', layer], ['foreign', layer]]);

    const result = await generate('axis', [0, 10, -10]);
    assert.equal(result.rows.length, 3);
    for (const row of result.rows) assert.equal(row.tokens, 6);
    assert.ok(result.rows[1].text !== result.rows[0].text || result.rows[2].text !== result.rows[0].text, `steering changed nothing: ${JSON.stringify(result.rows)}`);

    await assert.rejects(generate('foreign', [0, 1]), /another model/);

    // The ablation column comes after the coefficients, in the same batched run.
    const ablated = await generate('axis', [0, 10], { layers: 'all' });
    assert.equal(ablated.rows.length, 3);
    assert.deepEqual(ablated.rows.slice(0, 2).map((r) => r.text), result.rows.slice(0, 2).map((r) => r.text), 'the coefficient columns changed');
    assert.equal(ablated.rows[2].tokens, 6);
    assert.ok(ablated.rows[2].text.length > 0, 'the ablated row produced no text');
    assert.notEqual(ablated.rows[2].text, ablated.rows[0].text, `ablating the direction changed nothing: ${JSON.stringify(ablated.rows)}`);
    await assert.rejects(generate('axis', [0], { layers: [model.numHiddenLayers] }), /is not a layer of the model/);
  });
});
