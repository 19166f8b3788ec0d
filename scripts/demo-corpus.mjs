// The demo model's corpus, from Debian packages: modern English (fortunes), the Early Modern English
// of the King James Bible (bible-kjv, read through its `bible` program) and German (fortunes-de).
// Writes one file per source, documents separated by blank lines, as `microsteer pretrain --corpus`
// reads them. Installs the packages with apt-get when they are missing and we are root.
//
//   node scripts/demo-corpus.mjs OUT_DIR
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const FORTUNES = '/usr/share/games/fortunes';
const PACKAGES = { fortunes: `${FORTUNES}/fortunes`, 'fortunes-de': `${FORTUNES}/de/zitate`, 'bible-kjv': '/usr/bin/bible' };
/** Fortune files that are pictures, not prose. */
const NOT_PROSE = new Set(['art', 'ascii-art', 'asciiart']);

export const SOURCES = [
  { name: 'fortunes-en', package: 'fortunes', licence: 'BSD-style (fortune-mod; see /usr/share/doc/fortunes/copyright)', read: () => fortunes(FORTUNES) },
  { name: 'bible-kjv', package: 'bible-kjv-text', licence: 'the King James Version text, whose copyright has expired (the Bible Retrieval System data may be copied, modified and distributed at will; see /usr/share/doc/bible-kjv-text/copyright)', read: kingJames },
  { name: 'fortunes-de', package: 'fortunes-de', licence: 'GPL-2 or later (see /usr/share/doc/fortunes-de/copyright)', read: () => fortunes(`${FORTUNES}/de`) },
];

function ensurePackages() {
  const missing = Object.entries(PACKAGES).filter(([, probe]) => !existsSync(probe)).map(([name]) => name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`demo corpus: install ${missing.join(' ')} first: sudo apt-get install ${missing.join(' ')}`);
    process.exit(2);
  }
  console.error(`demo corpus: apt-get install ${missing.join(' ')}`);
  const run = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (run(['install', '-y', ...missing]).status !== 0 && (run(['update']).status !== 0 || run(['install', '-y', ...missing]).status !== 0)) {
    console.error('demo corpus: apt-get failed');
    process.exit(1);
  }
}

const OVERSTRIKE = new RegExp(`.${String.fromCharCode(8)}`, 'g');

/** A fortune as one paragraph-free document: overstrikes removed, tabs expanded, no blank lines inside. */
function cleanFortune(text) {
  const lines = text
    // Overstrike (`_\bX` underlines X on a teletype): keep the letter.
    .replace(OVERSTRIKE, '')
    .replace(/\t/g, '    ')
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim() !== '');
  return lines.join('\n');
}

/** Mostly letters and spaces: drops tables, code and pictures. */
function isProse(doc) {
  const letters = (doc.match(/[\p{L}\s]/gu) ?? []).length;
  return doc.length >= 20 && doc.length <= 2000 && letters / doc.length > 0.85;
}

function fortunes(dir) {
  const docs = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (name.includes('.') || NOT_PROSE.has(name) || !lstatSync(file).isFile()) continue;
    for (const raw of readFileSync(file, 'utf8').split(/^%$/m)) {
      const doc = cleanFortune(raw);
      if (isProse(doc)) docs.push(doc);
    }
  }
  return docs;
}

/** The verses of the King James Bible, five to a document, never across chapters. */
function kingJames() {
  const text = execFileSync('bible', ['-l100000', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const docs = [];
  let verses = [];
  const flush = () => {
    if (verses.length > 0) docs.push(verses.join('\n'));
    verses = [];
  };
  for (const line of text.split('\n')) {
    const verse = /^\s+\d+\s+(.*\S)\s*$/.exec(line);
    if (!verse) {
      flush(); // a chapter heading or a blank line
      continue;
    }
    verses.push(verse[1]);
    if (verses.length === 5) flush();
  }
  flush();
  return docs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node scripts/demo-corpus.mjs OUT_DIR');
    process.exit(2);
  }
  ensurePackages();
  mkdirSync(out, { recursive: true });
  for (const source of SOURCES) {
    const docs = source.read();
    writeFileSync(path.join(out, `${source.name}.txt`), `${docs.join('\n\n')}\n`);
    console.error(`demo corpus: ${source.name}: ${docs.length} documents, ${docs.reduce((n, d) => n + d.length, 0)} characters`);
  }
}
