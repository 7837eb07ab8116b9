#if canImport(Glibc)
import Glibc
#endif
import PodlabTools

exit(PodlabTools.main(CommandLine.arguments))
