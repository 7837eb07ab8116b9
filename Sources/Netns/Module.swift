// Netns module
