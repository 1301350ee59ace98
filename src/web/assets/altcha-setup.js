// The strict-CSP build of the ALTCHA widget brings no workers: register the PBKDF2 one that
// sportello's challenges use (served beside this file).
const worker = () => new Worker(new URL("altcha-pbkdf2.js", import.meta.url));
globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", worker);
