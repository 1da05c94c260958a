// Tests run in Node and import modules below the package entry: the Node platform first.
import '../src/node/install.js';
