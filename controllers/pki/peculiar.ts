/**
 * The one importer of @peculiar/x509. Its dependency injection (tsyringe) needs the Reflect metadata
 * polyfill loaded first, and its crypto provider is set to Node's WebCrypto (key generation and
 * signing then run on OpenSSL, off the event loop).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509, webcrypto };
