// Validates a glTF file with the Khronos glTF validator (the npm package gltf-validator that
// scripts/setup.sh puts in third_party/npm/) and prints the counts on one line,
//   errors=0 warnings=0 infos=2 hints=0
// then one line per error or warning. Exits 0 when the validator ran, whatever it found.
// Usage: node validate_gltf.js FILE [GLTF_VALIDATOR_DIR]
'use strict';
const fs = require('fs');
const path = require('path');

const [file, validatorDir] = process.argv.slice(2);
if (!file) {
  console.error('usage: node validate_gltf.js FILE [GLTF_VALIDATOR_DIR]');
  process.exit(2);
}
const validator = require(validatorDir || path.join(__dirname, '..', '..', 'third_party', 'npm', 'gltf-validator'));
const severities = ['error', 'warning', 'info', 'hint'];
validator.validateBytes(new Uint8Array(fs.readFileSync(file)), { uri: path.basename(file), maxIssues: 0, writeTimestamp: false })
  .then((report) => {
    const issues = report.issues;
    console.log(`errors=${issues.numErrors} warnings=${issues.numWarnings} infos=${issues.numInfos} hints=${issues.numHints}`);
    for (const m of issues.messages)
      if (m.severity <= 1) console.log(`${severities[m.severity]} ${m.code} ${m.pointer || ''}: ${m.message}`);
  }, (error) => {
    console.error(`validator failed: ${error}`);
    process.exit(1);
  });
