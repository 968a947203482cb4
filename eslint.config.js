// ESLint (flat config) for the browser scripts in web/static: plain
// scripts (no modules, no build step) that run as the pages load them.
"use strict";

const { defineConfig } = require("eslint/config");
const js = require("@eslint/js");
const globals = require("globals");

module.exports = defineConfig([
  {
    files: ["web/static/**/*.js"],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: {
      // The scripts keep to ES5 syntax (var, function; no optional catch
      // binding), so a catch clause names the error even when it ignores
      // it: such names start with an underscore.
      "no-unused-vars": ["error", { caughtErrorsIgnorePattern: "^_" }],
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error",
    },
  },
  {
    // This file itself runs in Node.
    files: ["eslint.config.js"],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: "commonjs",
      globals: { ...globals.node },
    },
  },
]);
