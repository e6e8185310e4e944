#!/usr/bin/env node
// Thin launcher: the compiled daemon lives in dist/ (npm run build).
import '../dist/src/runtime/main.js';
