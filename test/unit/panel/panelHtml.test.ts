import { test } from 'node:test';
import assert from 'node:assert/strict';
import { panelCsp, panelHtml } from '../../../webview/panelHtml';
import { PANEL_IDS } from '../../../webview/elementIds';

const resources = {
  cspSource: 'https://abc.vscode-cdn.net',
  nonce: 'bm9uY2Utb2YtdGhpcy1wYWdl',
  scriptUri: 'https://abc.vscode-cdn.net/ext/dist/webview.js',
  styleUri: 'https://abc.vscode-cdn.net/ext/media/panel.css',
};
const html = panelHtml(resources);

test('the CSP allows nothing by default, scripts only with the nonce, styles and fonts only from the extension', () => {
  const expected =
    "default-src 'none'; script-src 'nonce-bm9uY2Utb2YtdGhpcy1wYWdl'; " +
    "style-src https://abc.vscode-cdn.net 'nonce-bm9uY2Utb2YtdGhpcy1wYWdl'; " +
    'font-src https://abc.vscode-cdn.net; img-src https://abc.vscode-cdn.net data:';
  assert.equal(panelCsp(resources.cspSource, resources.nonce), expected);
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(meta, 'the page has a CSP meta tag');
  assert.equal(meta[1], expected);
  assert.ok(html.indexOf('Content-Security-Policy') < html.indexOf('<link'), 'the CSP comes before any resource');
});

test('the only script is the bundle, carrying the nonce; there is no inline code or style', () => {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0][1], / nonce="bm9uY2Utb2YtdGhpcy1wYWdl"/);
  assert.match(scripts[0][1], / src="https:\/\/abc\.vscode-cdn\.net\/ext\/dist\/webview\.js"/);
  assert.equal(scripts[0][2].trim(), '', 'the script tag has no inline body');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
  assert.doesNotMatch(html, /\sstyle\s*=/i, 'no inline style attributes');
  assert.doesNotMatch(html, /<style/i, 'no style elements');
  assert.doesNotMatch(html, /javascript:/i);
});

test('every resource comes from the URIs the host passed', () => {
  const urls = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(urls, [resources.scriptUri, resources.styleUri].sort());
});

test('attribute values are escaped', () => {
  const page = panelHtml({ ...resources, scriptUri: 'x"><img src=y>', nonce: 'n"' });
  assert.match(page, /src="x&quot;&gt;&lt;img src=y&gt;"/);
  assert.doesNotMatch(page, /<img/);
});

test('each singleton element is on the page once, with data-testid equal to its id', () => {
  for (const id of Object.values(PANEL_IDS)) {
    const found = html.match(new RegExp(`id="${id}" data-testid="${id}"`, 'g')) ?? [];
    assert.equal(found.length, 1, `#${id}`);
  }
});

test('every form control has a label', () => {
  for (const m of html.matchAll(/<input [^>]*id="([^"]+)"/g)) {
    assert.match(html, new RegExp(`<label for="${m[1]}">[^<]+</label>`), `label for #${m[1]}`);
  }
  assert.match(html, /<vscode-text-area [^>]*>Prompt<\/vscode-text-area>/);
  assert.match(html, /<label id="plane-label" for="plane-picker">/);
  assert.match(html, /<vscode-dropdown id="plane-picker" [^>]*aria-labelledby="plane-label"/);
  assert.match(html, /<vscode-radio-group id="steer-prompt" [^>]*aria-labelledby="steer-prompt-label"/);
  assert.match(html, /<label slot="label" id="steer-prompt-label">/);
});
