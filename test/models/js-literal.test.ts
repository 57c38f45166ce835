import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { literalAfter, parseLiteral } from './js-literal.js';

describe('parseLiteral', () => {
  it('reads what minifiers write for JSON data', () => {
    const text = `{a:1,"b c":[.5,-.25,1e-3,0x1f,-2],d:!0,e:!1,f:null,g:void 0,h:'it\\'s',i:"\\u00e9\\x41\\n",7:true,j:{},k:[]} tail`;
    const { value, end } = parseLiteral(text);
    assert.deepEqual(value, { a: 1, 'b c': [0.5, -0.25, 0.001, 31, -2], d: true, e: false, f: null, g: undefined, h: "it's", i: 'éA\n', 7: true, j: {}, k: [] });
    assert.equal(text.slice(end), ' tail');
  });

  it('refuses code, naming the offset', () => {
    assert.throws(() => parseLiteral('{a:foo()}'), /unexpected name 'foo' at offset 3/);
    assert.throws(() => parseLiteral('{a:1+2}'), /expected ',' at offset 4/);
    assert.throws(() => parseLiteral('["open'), /unterminated string/);
  });

  it('keeps __proto__ an own key', () => {
    const v = parseLiteral('{__proto__:{polluted:1}}').value as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('finds the literal a bundle exports', () => {
    const bundle = '!function(e){module.exports=e()}(function(){return{1:[function(e,a,n){a.exports={x:[1]}},{}]}})';
    assert.deepEqual(literalAfter(bundle, /\{1:\[function\(\w+,(\w+),\w+\)\{\1\.exports=/, 'bundle'), { x: [1] });
    assert.throws(() => literalAfter('var x = 1', /exports=/, 'bundle.js'), /bundle\.js: no \/exports=\/ in the file/);
  });
});
