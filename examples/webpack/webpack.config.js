// Nothing here is for rxsync: webpack 5 bundles the engine's worker (`new SharedWorker(new URL(...,
// import.meta.url))` in the package) and emits wa-sqlite's .wasm files by itself.
import HtmlWebpackPlugin from 'html-webpack-plugin';
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  entry: './src/main.js',
  output: { path: fileURLToPath(new URL('./dist', import.meta.url)), filename: '[name].[contenthash].js', clean: true },
  plugins: [new HtmlWebpackPlugin({ template: './index.html' })],
};
