/** Jest runs the TypeScript suites under tests/ts with ts-jest; Pulumi runs under its mock engine there. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/ts"],
  testTimeout: 60000,
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: { warnOnly: false }, isolatedModules: false }] },
};
