// Copies the files the dashboard serves from node_modules into vendor/
// (run by `npm ci` as postinstall). vendor/ is not committed; meson install
// copies it with the rest of data/dashboard/.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = [
  ['lightweight-charts/dist/lightweight-charts.standalone.production.js', 'lightweight-charts.js'],
  ['lightweight-charts/LICENSE', 'lightweight-charts.LICENSE'],
  ['swagger-ui-dist/swagger-ui-bundle.js', 'swagger-ui-bundle.js'],
  ['swagger-ui-dist/swagger-ui.css', 'swagger-ui.css'],
  ['swagger-ui-dist/LICENSE', 'swagger-ui.LICENSE'],
];
mkdirSync(join(here, 'vendor'), { recursive: true });
const versions = {};
for (const [from, to] of files) {
  copyFileSync(join(here, 'node_modules', from), join(here, 'vendor', to));
  const pkg = from.split('/')[0];
  versions[pkg] = JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}
console.log('vendor/:', Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', '));
