import PodlabCLI

// The lab's keeper blocks the signals it reads before the process has a second thread.
Keeper.runIfRequested(Array(CommandLine.arguments.dropFirst()))
await Podlab.entry()
