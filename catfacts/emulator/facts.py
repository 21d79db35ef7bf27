"""The emulator's facts: true, written for this project, and of varied length.

The lengths run from a couple of dozen characters to about 250, so that `max_length` filters
have something to cut. Every fact is a well-established one; keep it that way when adding more.
"""

FACTS: tuple[str, ...] = (
    # Biology and anatomy
    "Cats are obligate carnivores.",
    "Cats have 30 adult teeth.",
    "Kittens have 26 milk teeth, which are replaced by 30 adult teeth by about six months of age.",
    "Cats sweat through their paw pads.",
    "Cats have three eyelids.",
    "A cat's third eyelid, the nictitating membrane, sweeps across the eye to protect and moisten "
    "it, and it usually stays hidden unless the cat is sleepy or unwell.",
    "Most cats have five toes on each front paw and four on each back paw, eighteen in all.",
    "Cats with more than the usual number of toes are called polydactyl.",
    "The Ernest Hemingway Home and Museum in Key West, Florida, is home to dozens of cats, many of "
    "them polydactyl. Local tradition holds that they descend from a six-toed cat given to the "
    "writer by a ship's captain.",
    "Cats walk on their toes, a posture called digitigrade.",
    "When walking, a cat places each hind paw almost exactly where its front paw landed, which "
    "keeps it quiet and sure-footed.",
    "A cat's claws are retractable and stay sheathed when it is relaxed, which keeps them sharp.",
    "Scratching removes the worn outer layers of a cat's claws and leaves scent from glands in its "
    "paw pads.",
    "The dewclaw on the inside of each front leg is the cat's equivalent of a thumb.",
    "Because their claws all curve the same way, cats usually have to climb down a tree backwards "
    "rather than headfirst.",
    "A cat's collarbones are small and float free in muscle instead of joining the shoulder "
    "joint, which helps it squeeze through narrow gaps.",
    "An adult cat has roughly 230 to 250 bones, depending largely on the length of its tail, "
    "while an adult human has 206.",
    "Cats have an unusually flexible spine, which lets them arch, twist and stretch their stride "
    "when they run.",
    "A cat's tail works as a counterweight that helps it balance on narrow ledges.",
    "Cats have a righting reflex that lets them turn in midair to land feet first.",
    "The righting reflex appears in kittens at about three to four weeks old and is refined by "
    "about seven weeks.",
    "Landing on their feet does not make cats immune to falls; vets see many serious injuries in "
    "cats that fell from balconies and windows.",
    "A healthy cat can leap several times its own height in a single bound.",
    "A cat's powerful hind legs supply most of the push when it jumps.",
    "Over short distances a domestic cat can sprint at around 48 kilometres per hour.",
    "A cat's normal body temperature is about 38 to 39 degrees Celsius, higher than a human's.",
    "A resting cat's heart usually beats between 140 and 220 times a minute.",
    "A healthy cat at rest takes about 20 to 30 breaths a minute.",
    "Panting is unusual in cats and, outside of hard play, can be a sign of stress or illness.",
    "A typical adult domestic cat weighs around four to five kilograms.",
    "Domestic cats have 38 chromosomes, arranged in 19 pairs.",
    "The loose flap of skin on many cats' bellies is called the primordial pouch, and it is "
    "normal rather than a sign of excess weight.",
    "Cats have blood types A, B and the rare AB, so a transfusion must be matched to the cat.",
    "A kitten with type A blood can be harmed by the antibodies in the milk of a type B mother, a "
    "condition called neonatal isoerythrolysis.",
    "Cats often hide pain and illness, an instinct that once kept them from looking like easy "
    "prey.",
    "Cats with white or lightly pigmented ears and noses can get sunburned, which raises their "
    "risk of skin cancer.",
    "Cats descended from desert-dwelling wildcats, and their kidneys conserve water by making "
    "very concentrated urine.",
    "Many cats have a weak thirst drive, since their ancestors got most of their water from prey.",
    "A cat's cerebral cortex holds about 250 million neurons.",
    # Senses
    "Cats cannot taste sweetness.",
    "Cats lack a working sweet taste receptor, so sugar holds no appeal for them.",
    "Cats have far fewer taste buds than people do.",
    "A cat's sense of smell is many times more sensitive than a human's.",
    "A cat's vomeronasal organ, in the roof of the mouth, detects scent chemicals such as "
    "pheromones.",
    "When a cat pauses with its mouth slightly open after sniffing something, it is drawing the "
    "scent toward its vomeronasal organ, a behaviour called the flehmen response. Horses, goats "
    "and big cats do it too, often curling the upper lip.",
    "A cat's whiskers are called vibrissae.",
    "Whiskers are rooted deep in the skin and surrounded by nerves, so they sense the faintest "
    "touch and even changes in air currents. They help a cat find its way in the dark and judge "
    "whether it can fit through a gap.",
    "Most cats have about twelve whiskers on each side of the muzzle, set in four rows.",
    "Cats also have whiskers above the eyes, on the cheeks and on the backs of the front legs.",
    "A cat can swing its whiskers forward to feel prey it is holding, since it cannot see well "
    "right under its nose.",
    "Cats are far-sighted and see objects very close to their face poorly.",
    "Cats cannot see in complete darkness, but they see far better than people do in dim light.",
    "Cats can see in light roughly six times dimmer than the least that people need.",
    "The tapetum lucidum is a mirror-like layer behind a cat's retina. It reflects light back "
    "through the eye for a second chance to be detected, which is why a cat's eyes glow in "
    "headlights or a camera flash.",
    "Cats have a wider field of view than people, about 200 degrees compared with our 180.",
    "Cats see mostly blues and greens, with colour vision somewhat like a person with red-green "
    "colour blindness.",
    "Cats see less sharply than people, but they are very good at detecting movement.",
    "A cat's pupils can close to narrow vertical slits, which controls light precisely for an "
    "animal that hunts by day and by night.",
    "A cat's pupils widen when it is excited, frightened or about to pounce.",
    "Kittens are born with their eyes closed and open them at about one to two weeks of age.",
    "All kittens have blue eyes at first; their adult eye colour develops over the first few "
    "months.",
    "Each of a cat's ears is moved by about 32 muscles.",
    "Cats can swivel each ear independently to pinpoint where a sound comes from.",
    "Cats hear sounds well into the ultrasonic range, far higher than people can hear, which "
    "helps them detect the squeaks of rodents.",
    "White cats with blue eyes are often born deaf, because the gene for white fur can also "
    "affect the development of the inner ear.",
    "A cat's inner ear holds the vestibular system, which gives it its fine sense of balance.",
    # Grooming, eating and drinking
    "A cat's tongue is covered in backward-facing spines called papillae, made of keratin.",
    "The hollow tips of a cat's tongue papillae wick up saliva and carry it deep into the fur "
    "during grooming.",
    "Cats spend a large part of their waking hours grooming.",
    "As saliva from grooming evaporates, it helps a cat cool down.",
    "Hairballs form when fur swallowed during grooming collects in the stomach.",
    "Cats drink by touching the water with the tip of the tongue and pulling it up so fast that a "
    "column of water rises, which they catch by closing their jaws. High-speed films show a "
    "domestic cat doing this about four times a second.",
    "A cat's jaw barely moves from side to side, so it slices food with its scissor-like "
    "carnassial teeth instead of grinding it.",
    "Cats cannot make enough taurine themselves, so it must come from their food.",
    "A diet lacking taurine can cause heart disease and blindness in cats.",
    "Cats must get vitamin A from animal sources, because they cannot convert beta-carotene from "
    "plants into it.",
    "Cats also need arachidonic acid in their food, since they cannot make enough of it from "
    "plant oils.",
    "Many adult cats are lactose intolerant, so milk can upset their stomachs.",
    "In the wild, cats eat many small meals a day, each about the size of a mouse.",
    # Safety and health
    "Lilies are extremely toxic to cats.",
    "Every part of a true lily is dangerous to cats. Even a little pollen licked off the fur or a "
    "sip of water from the vase can cause sudden kidney failure, so lilies are best kept out of "
    "homes with cats.",
    "Onions, garlic and chives are toxic to cats and can damage their red blood cells.",
    "Chocolate is toxic to cats because it contains theobromine and caffeine.",
    "Paracetamol, also called acetaminophen, is highly toxic to cats.",
    "Cats have low levels of some liver enzymes that other animals use to break down drugs, so "
    "many medicines safe for people or dogs are dangerous for them.",
    "Permethrin, an insecticide used in some flea treatments for dogs, can poison cats.",
    "Cat allergies are caused mainly by a protein called Fel d 1, made in a cat's skin glands "
    "and saliva.",
    "No cat breed is truly hypoallergenic, because all cats produce the allergen Fel d 1.",
    "Male cats generally produce more of the allergen Fel d 1 than females, and neutering "
    "lowers the amount.",
    "The parasite Toxoplasma gondii can reproduce sexually only inside cats and other felids. "
    "That is why pregnant women are advised to let someone else clean the litter box, or to wear "
    "gloves and wash their hands afterwards.",
    "Cat scratch disease is caused by the bacterium Bartonella henselae.",
    "Feline immunodeficiency virus, FIV, infects cats but not people.",
    "Declawing is not a nail trim: it amputates the last bone of each toe. It is banned or "
    "heavily restricted in many countries, including the United Kingdom, and many vets refuse to "
    "do it except for medical reasons.",
    # Reproduction and growing up
    "A cat's pregnancy lasts about 63 to 65 days, roughly nine weeks.",
    "A typical litter has about four kittens, though litters of one or of more than eight happen.",
    "A group of kittens is called a kindle.",
    "A male cat is called a tom.",
    "An unspayed female cat is called a queen.",
    "Cats can become pregnant as young as four months old.",
    "Female cats are induced ovulators: mating triggers the release of eggs.",
    "A single litter of kittens can have more than one father.",
    "Kittens are born with their ear canals closed.",
    "Kittens start weaning at about four weeks and are usually fully weaned by eight to ten weeks.",
    "Kittens handled gently by people between about two and seven weeks of age grow up friendlier "
    "toward humans.",
    "Kittens practise stalking, pouncing and swatting through play, rehearsing the moves of a "
    "hunt.",
    "Kittens knead while nursing to help the milk flow, and many adult cats keep the habit.",
    "Most cats reach their adult size at about a year old.",
    "Large breeds such as the Maine Coon can keep growing until they are three to five years old.",
    "Many cats live into their mid-teens, and some reach twenty or more.",
    "The oldest cat on record, Creme Puff of Austin, Texas, lived to 38 years and 3 days.",
    # Behaviour and communication
    "Cats purr as they breathe both in and out.",
    "Purring comes from rapid twitches of the muscles of the larynx, at about 25 to 150 "
    "vibrations a second. The muscles open and close the gap between the vocal folds, and the "
    "air rushing through makes the purr.",
    "Cats purr when content, but also when stressed, hurt or giving birth.",
    "Adult cats rarely meow at one another.",
    "Meowing is mostly a kitten's call to its mother, and adult cats keep using it mainly to talk "
    "to people.",
    "Cats can tell their owner's voice apart from the voices of strangers.",
    "Cats can recognise their own names, even if they do not always come when called.",
    "A slow blink from a cat is a friendly signal. A 2020 study by British psychologists found "
    "that cats were more likely to slow-blink back at, and to approach, people who had first "
    "narrowed their eyes at them.",
    "A cat holding its tail straight up is usually greeting you in a friendly mood.",
    "A lashing or thumping tail usually means a cat is irritated.",
    "A cat flattening its ears against its head is frightened or ready to fight.",
    "A frightened or angry cat arches its back and raises its fur to look bigger.",
    "Hissing is a defensive warning rather than an attack.",
    "A cat rolling onto its back shows trust, but that is not always an invitation to rub its "
    "belly.",
    "Cats rub their cheeks and heads on people and objects to leave scent from glands on the face.",
    "Cats have scent glands on the cheeks, chin, paws, flanks and the base of the tail.",
    "Spraying urine is one way cats mark their territory.",
    "Neutering greatly reduces urine spraying in male cats.",
    "Cats that groom one another are strengthening a social bond.",
    "Many cats chatter or chirp while watching birds they cannot reach.",
    "Cats are crepuscular, which means they are most active at dawn and dusk.",
    "Adult cats typically sleep for 12 to 16 hours a day.",
    "Many cats favour one paw, and studies suggest females are more often right-pawed and males "
    "more often left-pawed.",
    "Cats are mostly solitary hunters.",
    "Feral cats often live in colonies built around a food source, and related females may nurse "
    "and guard one another's kittens.",
    "A male cat's home range is usually much larger than a female's.",
    "Catnip's effect on cats comes from a compound called nepetalactone.",
    "Not all cats react to catnip: the response is inherited, and a sizeable minority of cats "
    "ignore it.",
    "Kittens usually show no interest in catnip until they are several months old.",
    "Silver vine and Tatarian honeysuckle can excite many cats that ignore catnip.",
    "Outdoor cats often bring prey home; the reason is debated, but it is normal hunting "
    "behaviour.",
    # Coats, colours and breeds
    "Tabby is a coat pattern, not a breed.",
    "Many tabby cats have a marking shaped like the letter M on the forehead.",
    "The word tabby is thought to come from a striped silk once made in a district of Baghdad.",
    "Calico and tortoiseshell cats are almost always female. The genes for orange and black fur "
    "sit on the X chromosome, so a cat needs two X chromosomes, as females have, to show both "
    "colours at once.",
    "The rare male calico cats usually have an extra X chromosome, which normally leaves them "
    "sterile.",
    "Most orange cats are male: a male needs only one copy of the orange gene, while a female "
    "needs two.",
    "The dilute gene lightens a cat's coat, turning black into grey, often called blue, and orange "
    "into cream.",
    "Siamese colouring depends on temperature: the cooler ears, face, paws and tail grow darker "
    "fur.",
    "Siamese kittens are born almost white and develop their darker points as they grow.",
    "The Sphynx is not truly hairless; most have a fine down on their skin.",
    "Sphynx cats need regular baths, because there is no fur to soak up their skin oils.",
    "The Maine Coon is one of the largest domestic cat breeds.",
    "The Maine Coon is the official state cat of Maine.",
    "The Singapura is one of the smallest domestic cat breeds.",
    "The Norwegian Forest Cat has a thick, water-resistant double coat suited to cold winters.",
    "The Scottish Fold's folded ears come from a gene that affects cartilage throughout the body "
    "and can cause painful joint disease.",
    "The Turkish Van is known for a fondness for water that is rare among cats.",
    "The Ragdoll breed was developed in California in the 1960s.",
    "Each hair of an Abyssinian's ticked coat carries several bands of colour.",
    "The Bengal breed was developed by crossing domestic cats with the Asian leopard cat.",
    "The Savannah is a hybrid of domestic cats and the serval, a wild African cat.",
    "The Egyptian Mau is one of the few breeds with a naturally spotted coat.",
    "The Cornish Rex has only a soft undercoat, which gives it short, wavy fur.",
    "The Devon Rex's curly coat comes from a different mutation than the Cornish Rex's.",
    "The Russian Blue has a dense, silver-tipped blue-grey double coat.",
    "The Korat, a breed from Thailand, always has a silver-blue coat.",
    "The Birman is known for the white gloves on all four of its paws.",
    "The American Curl's ears curl backwards, away from the face.",
    "The Munchkin's short legs are the result of a natural genetic mutation.",
    "The Manx often has no tail at all, because of a natural mutation common on the Isle of Man.",
    "The Japanese Bobtail's short, pom-pom tail comes from a natural genetic mutation.",
    "Long-haired cats were brought to Europe from Persia and Turkey in the 1600s.",
    # History and culture
    "The domestic cat's scientific name is Felis catus.",
    "The cat family is called Felidae.",
    "The domestic cat descends from the African wildcat of North Africa and the Near East.",
    "Cats are thought to have tamed themselves. When people in the Near East began storing grain, "
    "rodents moved into their villages and wildcats followed the rodents; the bolder cats did "
    "best living alongside humans.",
    "A cat buried beside a person on Cyprus about 9,500 years ago is one of the oldest signs of "
    "cats living with people.",
    "Cats were revered in ancient Egypt.",
    "The ancient Egyptian goddess Bastet was often shown with the head of a cat.",
    "Archaeologists have found Egyptian cat cemeteries holding vast numbers of mummified cats.",
    "The Greek historian Diodorus Siculus wrote that killing a cat in ancient Egypt, even by "
    "accident, could be punished by death, and he described a Roman visitor lynched by a crowd "
    "after killing one.",
    "Ships long carried cats to keep rats and mice away from food, ropes and cargo.",
    "Domestic cats reached the Americas aboard European ships.",
    "In parts of medieval and early modern Europe, cats, black ones especially, were linked with "
    "witchcraft.",
    "In Britain and Japan, a black cat is often seen as a sign of good luck.",
    "The maneki-neko, the beckoning cat figurine from Japan, is believed to bring good luck.",
    "One of the first organised cat shows was held at the Crystal Palace in London in 1871.",
    "Félicette, a French cat, flew to space in 1963 and returned safely.",
    "Larry, a tabby, has been Chief Mouser to the Cabinet Office at 10 Downing Street since 2011.",
    "The Cheshire Cat, famous for its grin, appears in Lewis Carroll's Alice's Adventures in "
    "Wonderland.",
    "T. S. Eliot's Old Possum's Book of Practical Cats inspired the musical Cats.",
    "Garfield, the lasagna-loving comic strip cat, first appeared in 1978.",
    # Wild relatives and ancestors
    "Proailurus, one of the earliest known cat-like animals, lived about 25 million years ago.",
    "Smilodon, the best-known sabre-toothed cat, died out about 10,000 years ago.",
    "Tigers are the largest living cats.",
    "A tiger's stripes are in its skin as well as its fur.",
    "Lions are the most social wild cats, living in groups called prides.",
    "Lions, tigers, jaguars and leopards can roar; most other cats, the domestic cat included, "
    "cannot.",
    "Snow leopards cannot roar.",
    "Black panthers are usually leopards or jaguars with a dark coat caused by melanism.",
    "Cheetahs can only partly retract their claws, which gives them grip when they sprint.",
    "The cheetah is the fastest land animal, reaching over 100 kilometres per hour in short "
    "bursts.",
    "The rusty-spotted cat of India and Sri Lanka is one of the smallest wild cats in the world.",
    "The black-footed cat of southern Africa is among the smallest wild cats and a remarkably "
    "successful hunter.",
    # Cats and wildlife
    "Free-roaming domestic cats kill billions of birds and small mammals in the United States "
    "each year.",
    "Cats brought to islands by people have helped drive several native species extinct, such as "
    "the Stephens Island wren of New Zealand.",
)
