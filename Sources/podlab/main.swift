import PodlabCLI

await Podlab.entry()
