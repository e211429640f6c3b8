import Hummingbird
import Mustache
import Configuration
