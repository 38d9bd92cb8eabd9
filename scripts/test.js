#!/usr/bin/env node
// npm test: type check, lint, then every Jest test; the last line is "N passed, N failed".
// The type check and the lint count as one test each, so a type error or a lint error fails the run.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const bin = (name) => path.join(__dirname, '..', 'node_modules', '.bin', name);
const args = process.argv.slice(2);
let passed = 0;
let failed = 0;

function step(label, cmd, cmdArgs) {
  process.stdout.write(`== ${label}\n`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status === 0) passed += 1; else { failed += 1; process.stdout.write(`== ${label} FAILED\n`); }
}

if (!args.includes('--jest-only')) {
  step('typecheck (tsc --noEmit)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  step('lint (eslint)', bin('eslint'), ['src', 'tests', 'scripts']);
}
const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vtxsim-jest-')), 'results.json');
process.stdout.write('== jest\n');
const jestArgs = ['--json', `--outputFile=${out}`, ...args.filter((a) => a !== '--jest-only')];
const r = spawnSync(bin('jest'), jestArgs, { stdio: 'inherit' });
let results = null;
try { results = JSON.parse(fs.readFileSync(out, 'utf8')); } catch { results = null; }
if (results) {
  passed += results.numPassedTests;
  failed += results.numFailedTests + results.numRuntimeErrorTestSuites;
} else if (r.status !== 0) {
  failed += 1;
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
