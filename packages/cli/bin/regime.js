#!/usr/bin/env node
// Stable entry for the `regime` command (present before the build, so npm can link it).
import "../dist/main.js";
