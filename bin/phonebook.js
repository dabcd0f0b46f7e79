#!/usr/bin/env node
// The `phonebook` command: registers tsx's ESM loader, then runs the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
